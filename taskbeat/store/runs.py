"""The statements of one run: claim it, then record how it ended.

A successful run costs two statements, each its own transaction: the claim (a
compare-and-set that also reads the task's fields the handler needs) and the outcome
(which also clears the task's failure streak). On PostgreSQL each is one statement
(a data-modifying CTE); SQLite, which has none, takes two inside one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, exists, literal, or_, select, update
from sqlalchemy.orm import aliased

from taskbeat.db import is_postgresql
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, OverlapPolicy, allowed_sources
from taskbeat.tasks.state import TaskEvent, state_after


@dataclass(frozen=True)
class RunningExecution:
    """An execution a worker claimed: what settling it needs, whoever settles it."""

    id: int
    task_id: int
    task_name: str
    scheduled_for: datetime
    manual_run: int
    attempt: int
    params: dict[str, Any] | None  # a run-now override of the task's params
    test_mode: bool
    started_at: datetime
    worker: str


@dataclass(frozen=True)
class TaskForRun:
    """The task's fields a run needs, read with the claim."""

    handler: str
    params: dict[str, Any]
    schedule: str
    run_count: int
    overlap: OverlapPolicy


@dataclass(frozen=True)
class Claim:
    execution: RunningExecution
    task: TaskForRun | None  # None: the task was deleted after the run was enqueued


@dataclass(frozen=True)
class OutcomeValues:
    """The columns an outcome writes."""

    status: ExecutionStatus
    finished_at: datetime
    duration: float
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    logs: list[str] | None = None

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# The columns a RunningExecution is read from, in its fields' order.
RUNNING_COLUMNS = (
    Execution.id,
    Execution.task_id,
    Execution.task_name,
    Execution.scheduled_for,
    Execution.manual_run,
    Execution.attempt,
    Execution.params,
    Execution.test_mode,
    Execution.started_at,
    Execution.worker,
)
_TASK_COLUMNS = (Task.handler, Task.params, Task.schedule, Task.run_count, Task.overlap)


def claim(db: Connection, execution_id: int, worker: str, now: datetime) -> Claim | None:
    """scheduled|queued -> running for `worker`; None if another worker has it.

    Claiming again with the same worker and time is a no-op that answers the same, so
    a claim whose reply was lost with the connection can be sent again.
    """
    statement = (
        update(Execution)
        .where(
            Execution.id == execution_id,
            or_(
                Execution.status.in_(allowed_sources(ExecutionStatus.RUNNING)),
                and_(
                    Execution.status == ExecutionStatus.RUNNING,
                    Execution.worker == worker,
                    Execution.started_at == now,
                ),
            ),
        )
        .values(
            status=ExecutionStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            publish_lease_until=None,
        )
        .returning(*RUNNING_COLUMNS)
    )
    if is_postgresql(db):
        claimed = statement.cte("claimed")
        query = select(claimed, *[column.label(f"task_{column.key}") for column in _TASK_COLUMNS])
        query = query.select_from(claimed.outerjoin(Task, Task.id == claimed.c.task_id))
        row = db.execute(query).first()
        return None if row is None else _claim(tuple(row))
    execution = db.execute(statement).first()
    if execution is None:
        return None
    task = db.execute(select(*_TASK_COLUMNS).where(Task.id == execution.task_id)).first()
    return _claim((*execution, *(task if task else (None,) * len(_TASK_COLUMNS))))


def _claim(values: tuple[Any, ...]) -> Claim:
    count = len(RUNNING_COLUMNS)
    execution = RunningExecution(*values[:count])
    handler, params, schedule, run_count, overlap = values[count:]
    if handler is None:
        return Claim(execution, None)
    return Claim(execution, TaskForRun(handler, params, schedule, run_count, overlap))


def finish(db: Connection, run: RunningExecution, outcome: OutcomeValues) -> bool:
    """running -> the outcome's status, if this worker still holds the run. False when
    it does not (the sweeper settled it first): the outcome is then dropped."""
    result = db.execute(_finish(run, outcome))
    return result.first() is not None


@dataclass(frozen=True)
class Succeeded:
    """A success was recorded. `failures_before`: the failure streak it ended (read by
    the same statement, for the "recovered" alert), 0 when there was none."""

    failures_before: int = 0


def finish_successfully(
    db: Connection, run: RunningExecution, outcome: OutcomeValues
) -> Succeeded | None:
    """`finish`, and clear the task's failure streak, in one statement where it can be;
    None if this worker no longer held the run.

    The task row is written in the same statement, never locked first: a task's
    `running` status is derived from its executions, and the state a success leaves
    is computed in SQL from the row as it is then.
    """
    done = _finish(run, outcome)
    if run.test_mode:  # a test run leaves no mark on its task
        return Succeeded() if db.execute(done).first() is not None else None
    if is_postgresql(db):
        # The streak as it was: `before` is the task row as this statement found it
        # (a self-join reads the old values), so no extra round trip asks for it.
        before = aliased(Task, name="task_before")
        settle = (
            _settle_task(run, outcome)
            .where(before.id == Task.id)
            .returning(before.consecutive_failures.label("failures_before"))
        )
        finished = done.cte("finished")
        settled = settle.where(exists(select(finished.c.id))).cte("settled")
        streak = select(settled.c.failures_before).scalar_subquery()
        row = db.execute(select(finished.c.id, streak)).first()
        return None if row is None else Succeeded(row[1] or 0)
    if db.execute(done).first() is None:
        return None
    # SQLite's RETURNING sees only the new row: read the streak first, in this transaction.
    streak = db.scalar(select(Task.consecutive_failures).where(Task.id == run.task_id))
    db.execute(_settle_task(run, outcome))
    return Succeeded(streak or 0)


def _finish(run: RunningExecution, outcome: OutcomeValues) -> Any:
    return (
        update(Execution)
        .where(
            Execution.id == run.id,
            Execution.status == ExecutionStatus.RUNNING,
            Execution.worker == run.worker,
        )
        .values(**outcome.columns())
        .returning(Execution.id)
    )


def _settle_task(run: RunningExecution, outcome: OutcomeValues) -> Any:
    """After a success: the streak is over, and a task with no slot left is completed."""
    waiting = exists().where(
        Execution.task_id == Task.id,
        Execution.status.in_((ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED)),
    )
    ran_out = and_(Task.enabled.is_(True), Task.next_run_at.is_(None), ~waiting)
    state = case(
        (ran_out, literal(state_after(TaskEvent.SUCCEEDED_LAST).value)),
        else_=literal(state_after(TaskEvent.SUCCEEDED).value),
    )
    return (
        update(Task)
        .where(Task.id == run.task_id)
        .values(
            last_run_at=run.started_at,
            last_success_at=outcome.finished_at,
            consecutive_failures=0,
            retry_count=0,
            state=state,
        )
    )
