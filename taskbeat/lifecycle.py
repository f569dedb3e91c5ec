"""What an execution's outcome does to the execution, its task and the next attempt.

Used by the worker (a handler finished) and by the scheduler's sweeper (a worker was
lost), so both apply the same retry policy and the same task-state rules.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from taskbeat import store
from taskbeat.backoff import RetryPolicy, retry_delay
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, TaskState, Trigger

# A handler's own retry_after is held to the longest delay a task may configure.
MAX_RETRY_DELAY = 7 * 86400.0


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: ExecutionStatus
    result: Any = None
    error: ErrorInfo | None = None
    logs: list[str] = field(default_factory=list)
    retryable: bool = True
    retry_after: float | None = None  # a handler's own RetryableError(retry_after=...)


@dataclass(frozen=True)
class Recorded:
    execution_id: int
    status: ExecutionStatus
    retry_execution_id: int | None = None
    retry_due_at: datetime | None = None


def retry_policy(task: Task) -> RetryPolicy:
    return RetryPolicy(
        max_retries=task.max_retries,
        delay=task.retry_delay,
        factor=task.retry_backoff,
        cap=task.retry_backoff_max,
        jitter=task.retry_jitter,
    )


def claim(session: Session, execution_id: int, worker: str, now: datetime) -> Execution | None:
    """Take an execution for this worker: scheduled|queued -> running, or None if taken."""
    task = store.lock_task_of(session, execution_id)
    claimed = store.transition(
        session,
        execution_id,
        ExecutionStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker,
        publish_lease_until=None,
    )
    if not claimed:
        return None
    execution = store.get_execution(session, execution_id)
    session.refresh(execution)
    if task is not None and not execution.test_mode:
        task.state = TaskState.RUNNING
    return execution


def record_outcome(
    session: Session,
    execution_id: int,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> Recorded | None:
    """Write the outcome, update the task, and add the next attempt if one is due.

    None when the execution had already left `running` (e.g. the sweeper declared it
    lost): the late outcome is dropped, so each attempt is recorded once.
    """
    task = store.lock_task_of(session, execution_id)
    execution = store.get_execution(session, execution_id)
    started = execution.started_at or now
    written = store.transition(
        session,
        execution.id,
        outcome.status,
        finished_at=now,
        duration=max((now - started).total_seconds(), 0.0),
        result=outcome.result,
        error_type=outcome.error.type if outcome.error else None,
        error_message=outcome.error.message if outcome.error else None,
        error_traceback=outcome.error.traceback if outcome.error else None,
        logs=outcome.logs or None,
    )
    if not written:
        return None
    session.refresh(execution)
    if task is None or execution.test_mode:
        # A test run, or a task deleted meanwhile, leaves no mark on a task's state.
        return Recorded(execution.id, outcome.status)
    task.last_run_at = started
    if outcome.status.is_failure:
        return _after_failure(session, task, execution, outcome, now, rng)
    task.consecutive_failures = 0
    task.retry_count = 0
    task.state = _settled_state(session, task, execution)
    return Recorded(execution.id, outcome.status)


def _after_failure(
    session: Session,
    task: Task,
    execution: Execution,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None,
) -> Recorded:
    policy = retry_policy(task)
    if not (outcome.retryable and policy.has_retry_after(execution.attempt)):
        task.consecutive_failures += 1
        task.retry_count = 0
        task.state = TaskState.FAILED
        return Recorded(execution.id, outcome.status)
    delay = outcome.retry_after
    if delay is None:
        delay = retry_delay(policy, execution.attempt, rng)
    due_at = now + timedelta(seconds=min(max(delay, 0.0), MAX_RETRY_DELAY))
    # Empty if that attempt exists already (say, the sweeper and a late worker raced).
    added = store.add_executions(session, [_retry_row(execution, due_at, now)])
    retry_id = next(iter(added.values()), None)
    task.retry_count = execution.attempt
    task.state = TaskState.RETRY_SCHEDULED
    return Recorded(execution.id, outcome.status, retry_id, due_at)


def _retry_row(execution: Execution, due_at: datetime, now: datetime) -> store.NewExecution:
    """The next attempt of the same slot: it keeps the slot and is due after the backoff."""
    assert execution.task_id is not None
    return store.NewExecution(
        task_id=execution.task_id,
        task_name=execution.task_name,
        trigger=Trigger.RETRY,
        scheduled_for=execution.scheduled_for,
        due_at=due_at,
        status=ExecutionStatus.SCHEDULED,
        created_at=now,
        attempt=execution.attempt + 1,
        params=execution.params,
        test_mode=execution.test_mode,
    )


def _settled_state(session: Session, task: Task, execution: Execution) -> TaskState:
    """The task's state after a successful run."""
    if store.has_other_running(session, task.id, execution.id):
        return TaskState.RUNNING
    # A paused task has no next_run_at either; only an enabled one can have run out.
    finished = task.enabled and task.next_run_at is None
    if finished and not store.has_pending(session, task.id):
        return TaskState.COMPLETED
    return TaskState.ACTIVE
