"""The scheduler's sweep for lost runs: a running execution whose worker stopped
heartbeating is settled as lost (or timed out, past its time limit) and retried by its
task's policy. Republishing queued runs is the outbox relay's step 6."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.executions.lifecycle import ErrorInfo, Outcome, record_failure
from taskbeat.logs import run_context
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.store.sweeps import QuietRun

log = logging.getLogger(__name__)


def sweep_lost(settings: Settings, session_factory: sessionmaker[Session], clock: Clock) -> int:
    """Settle `running` executions with a stale heartbeat, each in its own transaction;
    how many were settled."""
    now = clock()
    cutoff = now - timedelta(seconds=settings.lost_after)
    with session_factory() as session:
        quiet = store.sweeps.stale_running(session, cutoff, settings.scheduler_batch_size)
    settled = 0
    for run in quiet:
        with session_factory.begin() as session:
            recorded = record_failure(session, run.execution, settlement(run, now), now)
        if recorded is None:
            continue
        settled += 1
        with run_context(run.execution.task_name, run.execution.id, run.execution.attempt):
            log.warning(
                "execution %s (task %s, attempt %s) %s; retry: %s",
                run.execution.id,
                run.execution.task_name,
                run.execution.attempt,
                recorded.status,
                recorded.retry_execution_id,
            )
    return settled


def settlement(run: QuietRun, now: datetime) -> Outcome:
    """Past its task's timeout, the hard time limit killed it: timed out. Else: lost."""
    started = run.execution.started_at
    if run.timeout is not None and (now - started).total_seconds() > run.timeout:
        message = f"ran past its {run.timeout:g}s time limit; its worker process was stopped"
        return Outcome(ExecutionStatus.TIMED_OUT, error=ErrorInfo("TimeLimitExceeded", message))
    since = run.heartbeat_at.isoformat() if run.heartbeat_at else "its start"
    message = f"no heartbeat from worker {run.execution.worker} since {since}"
    return Outcome(ExecutionStatus.LOST, error=ErrorInfo("WorkerLost", message))
