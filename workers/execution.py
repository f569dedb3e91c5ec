"""The body of the Celery task, as a plain function: claim, prepare, run, record.

1. Claim the row (scheduled|queued -> running) by compare-and-set, in one statement
   that also reads the task's fields; a duplicate or redelivered message finds it taken
   and does nothing.
2. Look up the handler and validate the params (in memory); a missing handler or bad
   params is a failure no retry can fix.
3. Run the handler, shown alive by the process's heartbeat threads (`workers.heartbeat`:
   the database heartbeat, the Redis alive key, the fence) and its log lines captured.
4. Record the outcome: a success in one statement; a failure with retries left adds
   the next attempt as a new row, due after the backoff, and wakes the scheduler.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from taskbeat.clock import Clock
from taskbeat.db import one_statement
from taskbeat.errors import HandlerNotFound, InvalidInput, TaskbeatError
from taskbeat.executions.lifecycle import ErrorInfo, Outcome, record_failure, record_success
from taskbeat.handler import HandlerContext, HandlerRegistry
from taskbeat.logs import run_context
from taskbeat.outbox.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus, OverlapPolicy
from taskbeat.store import runs
from taskbeat.store.runs import Claim
from workers.capture import LineCapture, run_logger
from workers.heartbeat import Heartbeats
from workers.history import StoreHistory
from workers.invoke import Invocation, invoke

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerRuntime:
    """What the task body needs, built once per worker process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    registry: HandlerRegistry
    publisher: Publisher
    clock: Clock
    heartbeats: Heartbeats


class DatabaseUnavailable(TaskbeatError):
    """The execution could not be claimed because the database is unreachable: the
    message must go back to the queue, not be acknowledged and lost."""


def run_execution(runtime: WorkerRuntime, execution_id: int, worker: str) -> ExecutionStatus | None:
    """Run one execution; its final status, or None if another worker had it."""
    now = runtime.clock()

    def take() -> Claim | None:
        with one_statement(runtime.engine) as connection:
            return runs.claim(connection, execution_id, worker, now)

    try:
        claim = _once_more_if_disconnected(take)
    except DBAPIError as exc:
        if not is_transient(exc):
            raise
        raise DatabaseUnavailable(f"cannot claim execution {execution_id}: {exc}") from exc
    if claim is None:
        log.info("execution %s was already claimed; message dropped", execution_id)
        return None
    run = claim.execution
    # Every log line from here on (ours, the handler's) names the run it is about.
    with run_context(run.task_name, run.id, run.attempt):
        return _run_claimed(runtime, claim)


def _run_claimed(runtime: WorkerRuntime, claim: Claim) -> ExecutionStatus | None:
    run = claim.execution
    log.info("running execution %s (task %s, attempt %s)", run.id, run.task_name, run.attempt)
    prepared = _prepare(runtime, claim)
    if isinstance(prepared, Outcome):
        return _record(runtime, claim, prepared)
    # Stamped until the outcome is written: a write waiting out a database outage
    # belongs to a live run.
    with runtime.heartbeats.watching(run.id, run.started_at):
        outcome = invoke(prepared, runtime.settings)
        runtime.heartbeats.handler_returned(run.id)
        return _record(runtime, claim, outcome)


def _prepare(runtime: WorkerRuntime, claim: Claim) -> Invocation | Outcome:
    run, task = claim.execution, claim.task
    if task is None:
        return _permanent("TaskDeleted", f"task {run.task_name!r} no longer exists")
    try:
        spec = runtime.registry.get(task.handler)
        params = spec.validate_params(run.params if run.params is not None else task.params)
    except (HandlerNotFound, InvalidInput) as exc:
        return _permanent(type(exc).__name__, str(exc))
    capture = LineCapture(runtime.settings.log_max_lines)
    context = HandlerContext(
        params=params,
        task_id=run.task_id,
        task_name=run.task_name,
        execution_id=run.id,
        scheduled_at=run.scheduled_for,
        periodicity=task.schedule,
        execution_count=task.run_count,
        attempt=run.attempt,
        test_mode=run.test_mode,
        logger=run_logger(spec.name, capture),
        history=StoreHistory(runtime.session_factory, run.task_id, run.id),
    )
    return Invocation(spec, context, capture)


def _record(runtime: WorkerRuntime, claim: Claim, outcome: Outcome) -> ExecutionStatus | None:
    run = claim.execution
    try:
        recorded, retry_added = _write(runtime, claim, outcome)
    except DataError as exc:
        # The database refused something the handler produced: record the outcome
        # without it rather than leave the run `running` (it would be re-run as lost).
        log.exception("execution %s: outcome refused by the database", run.id)
        recorded, retry_added = _write(runtime, claim, _without_payload(outcome, exc))
    if not recorded:
        log.warning("execution %s had already been settled; outcome dropped", run.id)
        return None
    log.info("execution %s %s", run.id, outcome.status)
    behind = claim.task is not None and claim.task.overlap is OverlapPolicy.QUEUE_ONE
    if retry_added or behind:  # a retry, or a held run, is now due: publish it on time
        runtime.publisher.wake_scheduler()
    return outcome.status


def _write(runtime: WorkerRuntime, claim: Claim, outcome: Outcome) -> tuple[bool, bool]:
    """Record the outcome, retrying while the database is briefly away; (recorded,
    whether a retry row was added)."""
    run = claim.execution

    def write() -> tuple[bool, bool]:
        now = runtime.clock()
        if not outcome.status.is_failure:
            with one_statement(runtime.engine) as connection:
                return record_success(connection, run, outcome, now), False
        with runtime.session_factory.begin() as session:
            recorded = record_failure(session, run, outcome, now)
        retry = recorded is not None and recorded.retry_execution_id is not None
        return recorded is not None, retry

    return _while_transient(write, runtime.settings.outcome_write_patience)


def _once_more_if_disconnected(action: Callable[[], T]) -> T:
    """Run `action`; if it failed on a connection that had died (the pool hands out
    connections without a ping), once more on a fresh one."""
    try:
        return action()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return action()


def _while_transient(action: Callable[[], T], patience: float) -> T:
    """Run `action`, again with growing pauses while the database cannot be reached,
    for up to `patience` seconds: an outcome is not dropped because a write failed."""
    deadline = time.monotonic() + patience
    pause = 0.05
    while True:
        try:
            return action()
        except DBAPIError as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("recording an outcome failed (%s); trying again in %.2fs", exc, pause)
            time.sleep(pause * (1 + random.random() / 2))
            pause = min(pause * 2, 5.0)


def is_transient(exc: DBAPIError) -> bool:
    """The database could not be reached or dropped the session (a restart, a terminated
    backend, a session bound that ended a transaction): worth trying again."""
    return exc.connection_invalidated or isinstance(exc, OperationalError)


def _without_payload(outcome: Outcome, exc: DataError) -> Outcome:
    reason = f"the outcome could not be stored ({type(exc.orig).__name__}); result and logs dropped"
    error = ErrorInfo("OutcomeNotStored", reason)
    return replace(outcome, result=None, logs=[], error=error)


def _permanent(kind: str, message: str) -> Outcome:
    return Outcome(ExecutionStatus.FAILED, error=ErrorInfo(kind, message), retryable=False)
