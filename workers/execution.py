"""The body of the Celery task, as a plain function: claim, prepare, run, record.

1. Claim the row (scheduled|queued -> running) by compare-and-set; a duplicate or
   redelivered message finds it taken and does nothing.
2. Look up the handler and validate the params; a missing handler or bad params is a
   failure that no retry can fix.
3. Run the handler with a heartbeat going, its log lines captured.
4. Record the outcome; a failure with retries left adds the next attempt as a new row,
   due after the backoff, and wakes the scheduler to publish it on time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.errors import HandlerNotFound, InvalidInput, TaskbeatError
from taskbeat.handler import HandlerContext, HandlerRegistry
from taskbeat.lifecycle import ErrorInfo, Outcome, Recorded, claim, record_outcome
from taskbeat.models import Execution, Task
from taskbeat.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from workers.capture import LineCapture, run_logger
from workers.heartbeat import Heartbeat
from workers.invoke import Invocation, invoke

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerRuntime:
    """What the task body needs, built once per worker process."""

    settings: Settings
    session_factory: sessionmaker[Session]
    registry: HandlerRegistry
    publisher: Publisher
    clock: Clock


class DatabaseUnavailable(TaskbeatError):
    """The execution could not be claimed because the database is unreachable: the
    message must go back to the queue, not be acknowledged and lost."""


def run_execution(runtime: WorkerRuntime, execution_id: int, worker: str) -> ExecutionStatus | None:
    """Run one execution; its final status, or None if another worker had it."""
    try:
        with runtime.session_factory.begin() as session:
            execution = claim(session, execution_id, worker, runtime.clock())
            if execution is None:
                log.info("execution %s was already claimed; message dropped", execution_id)
                return None
            prepared = _prepare(session, runtime, execution)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot claim execution {execution_id}: {exc}") from exc
    log.info(
        "running execution %s (task %s, attempt %s)",
        execution_id,
        execution.task_name,
        execution.attempt,
    )
    if isinstance(prepared, Outcome):
        outcome = prepared
    else:
        with Heartbeat(
            runtime.session_factory,
            execution_id,
            runtime.settings.heartbeat_interval,
            runtime.clock,
        ):
            outcome = invoke(prepared, runtime.settings)
    return _record(runtime, execution_id, outcome)


def _prepare(
    session: Session, runtime: WorkerRuntime, execution: Execution
) -> Invocation | Outcome:
    task = session.get(Task, execution.task_id) if execution.task_id is not None else None
    if task is None:
        return _permanent("TaskDeleted", f"task {execution.task_name!r} no longer exists")
    try:
        spec = runtime.registry.get(task.handler)
        params = spec.validate_params(
            execution.params if execution.params is not None else task.params
        )
    except (HandlerNotFound, InvalidInput) as exc:
        return _permanent(type(exc).__name__, str(exc))
    capture = LineCapture(runtime.settings.log_max_lines)
    context = HandlerContext(
        params=params,
        task_id=task.id,
        task_name=task.name,
        execution_id=execution.id,
        scheduled_at=execution.scheduled_for,
        periodicity=task.schedule,
        execution_count=task.run_count,
        last_execution=_summary(store.last_finished_execution(session, task.id, execution.id)),
        attempt=execution.attempt,
        test_mode=execution.test_mode,
        logger=run_logger(spec.name, capture),
        session_factory=runtime.session_factory,
    )
    return Invocation(spec, context, capture)


def _record(runtime: WorkerRuntime, execution_id: int, outcome: Outcome) -> ExecutionStatus | None:
    try:
        recorded = _write(runtime, execution_id, outcome)
    except DataError as exc:
        # The database refused something the handler produced: record the outcome
        # without it rather than leave the run `running` (it would be re-run as lost).
        log.exception("execution %s: outcome refused by the database", execution_id)
        recorded = _write(runtime, execution_id, _without_payload(outcome, exc))
    if recorded is None:
        log.warning("execution %s had already been settled; outcome dropped", execution_id)
        return None
    log.info("execution %s %s", execution_id, recorded.status)
    if recorded.retry_execution_id is not None:
        runtime.publisher.wake_scheduler()
    return recorded.status


def _write(runtime: WorkerRuntime, execution_id: int, outcome: Outcome) -> Recorded | None:
    with runtime.session_factory.begin() as session:
        return record_outcome(session, execution_id, outcome, runtime.clock())


def _without_payload(outcome: Outcome, exc: DataError) -> Outcome:
    reason = f"the outcome could not be stored ({type(exc.orig).__name__}); result and logs dropped"
    error = ErrorInfo("OutcomeNotStored", reason)
    return replace(outcome, result=None, logs=[], error=error)


def _permanent(kind: str, message: str) -> Outcome:
    return Outcome(ExecutionStatus.FAILED, error=ErrorInfo(kind, message), retryable=False)


def _summary(execution: Execution | None) -> dict[str, Any] | None:
    if execution is None:
        return None
    return {
        "id": execution.id,
        "status": execution.status.value,
        "attempt": execution.attempt,
        "scheduled_for": execution.scheduled_for.isoformat(),
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
        "duration": execution.duration,
        "result": execution.result,
        "error": execution.error_message,
    }
