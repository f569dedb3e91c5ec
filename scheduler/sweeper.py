"""The scheduler's sweeps: runs whose worker died are settled as lost (or timed out) and
retried; queued runs whose message may be gone are published again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.enqueue import run_message
from taskbeat.lifecycle import ErrorInfo, Outcome, record_outcome
from taskbeat.models import Execution
from taskbeat.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus

log = logging.getLogger(__name__)


def sweep_lost(settings: Settings, session_factory: sessionmaker[Session], clock: Clock) -> int:
    """Settle `running` executions with a stale heartbeat, each in its own transaction;
    how many were settled. Each is retried by its task's policy."""
    now = clock()
    cutoff = now - timedelta(seconds=settings.lost_after)
    with session_factory() as session:
        stale = store.stale_running(session, cutoff, settings.scheduler_batch_size)
    settled = 0
    for execution_id, timeout in stale:
        with session_factory.begin() as session:
            execution = store.get_execution(session, execution_id)
            outcome = _settlement(execution, timeout, now)
            recorded = record_outcome(session, execution_id, outcome, now)
        if recorded is not None:
            settled += 1
            log.warning(
                "execution %s (task %s, attempt %s) %s; retry: %s",
                execution_id,
                execution.task_name,
                execution.attempt,
                recorded.status,
                recorded.retry_execution_id,
            )
    return settled


def _settlement(execution: Execution, timeout: float | None, now: datetime) -> Outcome:
    """Past its task's timeout, the hard time limit killed it: timed out. Else: lost."""
    started = execution.started_at or now
    if timeout is not None and (now - started).total_seconds() > timeout:
        message = f"ran past its {timeout:g}s time limit; its worker process was stopped"
        return Outcome(ExecutionStatus.TIMED_OUT, error=ErrorInfo("TimeLimitExceeded", message))
    since = execution.heartbeat_at.isoformat() if execution.heartbeat_at else "its start"
    message = f"no heartbeat from worker {execution.worker} since {since}"
    return Outcome(ExecutionStatus.LOST, error=ErrorInfo("WorkerLost", message))


def republish_queued(
    settings: Settings, session_factory: sessionmaker[Session], publisher: Publisher, clock: Clock
) -> int:
    """Publish again the queued runs whose message may be gone; how many.

    All of them when Redis has lost its data since we last looked (it restarted without
    persistence, or was flushed); otherwise those waiting longer than `requeue_after`
    (a message acked by a worker that then failed to claim, say).
    """
    now = clock()
    cutoff = (
        None if publisher.broker_was_reset() else now - timedelta(seconds=settings.requeue_after)
    )
    with session_factory() as session:
        stale = store.queued_before(session, cutoff, settings.scheduler_batch_size)
        messages = [run_message(execution.id, task) for execution, task in stale]
    published = publisher.publish(messages)
    with session_factory.begin() as session:
        store.mark_requeued(session, published, now)
    if published:
        reason = "Redis lost its data" if cutoff is None else "unclaimed too long"
        log.warning("published %d queued runs again (%s)", len(published), reason)
    return len(published)
