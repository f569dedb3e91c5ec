"""What an execution's outcome does to the execution, its task and the next attempt.

Used by the worker (a handler finished) and by the scheduler's sweeper (a worker was
lost), so both apply the same retry policy and the same task-state rules.

- A success is one statement (`store.runs.finish_successfully`): no task-row lock. Only
  the success that ends a failure streak costs one more (its "recovered" alert).
- A failure moves the execution first, then locks its task to count the failure and,
  with retries left, adds the next attempt as a new row due after the backoff.
  Executions before tasks: the only writers that lock a task and then executions (an
  edit, a delete, a reset) touch only executions that have not started, which a
  settling worker never holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from taskbeat import store
from taskbeat.alerts import notices
from taskbeat.executions.backoff import RetryPolicy, retry_delay
from taskbeat.models import Task
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.store.executions import NewExecution
from taskbeat.store.runs import OutcomeValues, RunningExecution
from taskbeat.tasks import operations
from taskbeat.tasks.state import TaskEvent, next_state

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

    def values(self, run: RunningExecution, now: datetime) -> OutcomeValues:
        """The columns this outcome writes on `run`'s row."""
        error = self.error
        return OutcomeValues(
            status=self.status,
            finished_at=now,
            duration=max((now - run.started_at).total_seconds(), 0.0),
            result=self.result,
            error_type=error.type if error else None,
            error_message=error.message if error else None,
            error_traceback=error.traceback if error else None,
            logs=self.logs or None,
        )


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


def record_success(db: Connection, run: RunningExecution, outcome: Outcome, now: datetime) -> bool:
    """Write a success and settle the task in one statement; False if the run had
    already been settled by someone else (the outcome is then dropped)."""
    assert not outcome.status.is_failure
    succeeded = store.runs.finish_successfully(db, run, outcome.values(run, now))
    if succeeded is None:
        return False
    if succeeded.failures_before > 0:  # the failure -> success transition: rare
        store.alerts.add_delivery(db, notices.recovered(run, succeeded.failures_before, now))
    return True


def record_failure(
    session: Session,
    run: RunningExecution,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> Recorded | None:
    """Write a failed, timed-out or lost attempt, count it on the task, and add the next
    attempt if the policy allows one. None if the run had already been settled."""
    if not store.runs.finish(session.connection(), run, outcome.values(run, now)):
        return None
    if run.test_mode:  # a test run leaves no mark on its task, and is not retried
        return Recorded(run.id, outcome.status)
    task = store.tasks.lock_task(session, run.task_id)
    if task is None:  # deleted meanwhile
        return Recorded(run.id, outcome.status)
    policy = retry_policy(task)
    if not (outcome.retryable and policy.has_retry_after(run.attempt)):
        _exhausted(session, task, run, outcome, now)
        return Recorded(run.id, outcome.status)
    delay = outcome.retry_after
    if delay is None:
        delay = retry_delay(policy, run.attempt, rng)
    due_at = now + timedelta(seconds=min(max(delay, 0.0), MAX_RETRY_DELAY))
    # Empty if that attempt exists already (say, the sweeper and a late worker raced).
    added = store.executions.insert_executions(session, [_retry_row(run, due_at, now)])
    task.retry_count = run.attempt
    task.state = next_state(task.state, TaskEvent.RETRY_SCHEDULED)
    return Recorded(run.id, outcome.status, next(iter(added.values()), None), due_at)


def _exhausted(
    session: Session, task: Task, run: RunningExecution, outcome: Outcome, now: datetime
) -> None:
    """The slot has used up its retries: count it, alert, pause if the task says so."""
    task.consecutive_failures += 1
    task.retry_count = 0
    task.state = next_state(task.state, TaskEvent.RETRIES_EXHAUSTED)
    error = outcome.error.message if outcome.error else None
    store.alerts.add_delivery(session, notices.failed(task, run, outcome.status, error, now))
    if task.pause_on_failure:
        operations.pause(task, now)


def _retry_row(
    run: RunningExecution, due_at: datetime, now: datetime
) -> store.executions.NewExecution:
    """The next attempt of the same slot: it keeps the slot and is due after the backoff."""
    return NewExecution(
        task_id=run.task_id,
        task_name=run.task_name,
        trigger=Trigger.RETRY,
        scheduled_for=run.scheduled_for,
        manual_run=run.manual_run,
        due_at=due_at,
        status=ExecutionStatus.SCHEDULED,
        created_at=now,
        attempt=run.attempt + 1,
        params=run.params,
        test_mode=run.test_mode,
    )
