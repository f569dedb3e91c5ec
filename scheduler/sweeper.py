"""Executions whose worker died: mark them lost and retry them by the task's policy."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.lifecycle import ErrorInfo, Outcome, record_outcome
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus

log = logging.getLogger(__name__)


def sweep_lost(settings: Settings, session_factory: sessionmaker[Session], clock: Clock) -> int:
    """Mark `running` executions with a stale heartbeat as lost; how many were."""
    now = clock()
    cutoff = now - timedelta(seconds=settings.lost_after)
    with session_factory.begin() as session:
        stale = store.stale_running(session, cutoff, settings.scheduler_batch_size)
        for execution in stale:
            error = ErrorInfo(
                "WorkerLost",
                f"no heartbeat from worker {execution.worker} since "
                f"{execution.heartbeat_at.isoformat() if execution.heartbeat_at else 'start'}",
            )
            recorded = record_outcome(
                session, execution, Outcome(ExecutionStatus.LOST, error=error), now
            )
            log.warning(
                "execution %s (task %s, attempt %s) lost; retry: %s",
                execution.id,
                execution.task_name,
                execution.attempt,
                recorded.retry_execution_id if recorded else None,
            )
    return len(stale)
