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

from sqlalchemy import Connection, and_, bindparam, case, exists, literal, or_, select, update
from sqlalchemy.orm import aliased

from taskbeat.db import is_postgresql
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, OverlapPolicy, allowed_sources
from taskbeat.store.prepared import prepared
from taskbeat.store.sql import one_of
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
_OUTCOME_COLUMNS = tuple(OutcomeValues.__dataclass_fields__)

# The statements are built once, with bind parameters: building one costs more CPU than
# running it, and a statement built once has its compiled form cached for good. No bind
# parameter is named after a column: for an UPDATE, SQLAlchemy would SET that column.

# scheduled|queued -> running for a worker; the same worker and time again is a no-op
# that answers the same, so a claim whose reply was lost can be sent again.
_CLAIM = (
    update(Execution)
    .where(
        Execution.id == bindparam("execution_id"),
        or_(
            one_of(Execution.status, allowed_sources(ExecutionStatus.RUNNING)),
            and_(
                Execution.status == ExecutionStatus.RUNNING,
                Execution.worker == bindparam("claimer"),
                Execution.started_at == bindparam("claimed_at"),
            ),
        ),
    )
    .values(
        status=ExecutionStatus.RUNNING,
        started_at=bindparam("claimed_at"),
        heartbeat_at=bindparam("claimed_at"),
        worker=bindparam("claimer"),
        publish_lease_until=None,
    )
    .returning(*RUNNING_COLUMNS)
)
_CLAIMED = _CLAIM.cte("claimed")
# PostgreSQL: the claim and the task's fields in one statement.
_CLAIM_WITH_TASK = select(
    _CLAIMED, *[column.label(f"task_{column.key}") for column in _TASK_COLUMNS]
).select_from(_CLAIMED.outerjoin(Task, Task.id == _CLAIMED.c.task_id))
_TASK_FOR_RUN = select(*_TASK_COLUMNS).where(Task.id == bindparam("claimed_task"))

# running -> the outcome, if this worker still holds the run.
_FINISH = (
    update(Execution)
    .where(
        Execution.id == bindparam("execution_id"),
        Execution.status == ExecutionStatus.RUNNING,
        Execution.worker == bindparam("claimer"),
    )
    .values({name: bindparam(f"outcome_{name}") for name in _OUTCOME_COLUMNS})
    .returning(Execution.id)
)
# After a success: the failure streak is over; a task with no slot left is completed.
# No column this writes is indexed, so PostgreSQL rewrites the row in place (a HOT
# update, no index touched) unless the state really changes (a recovery, the last run).
_WAITING = exists().where(
    Execution.task_id == Task.id,
    one_of(Execution.status, (ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED)),
)
_SETTLE_TASK = (
    update(Task)
    .where(Task.id == bindparam("settled_task"))
    .values(
        last_success_at=bindparam("settled_success_at"),
        consecutive_failures=0,
        retry_count=0,
        state=case(
            (
                and_(Task.enabled.is_(True), Task.next_run_at.is_(None), ~_WAITING),
                literal(state_after(TaskEvent.SUCCEEDED_LAST).value),
            ),
            else_=literal(state_after(TaskEvent.SUCCEEDED).value),
        ),
    )
)
_FINISHED = _FINISH.cte("finished")
# PostgreSQL: the outcome and the task in one statement (the task only if the outcome
# was written). The streak it ends is read from the row as this statement found it (a
# self-join sees the old values): the "recovered" alert needs it, at no extra round trip.
_BEFORE = aliased(Task, name="task_before")
_SETTLED = (
    _SETTLE_TASK.where(_BEFORE.id == Task.id, exists(select(_FINISHED.c.id)))
    .returning(_BEFORE.consecutive_failures.label("failures_before"))
    .cte("settled")
)
_FINISH_AND_SETTLE = select(
    _FINISHED.c.id,
    select(_SETTLED.c.failures_before).scalar_subquery().label("failures_before"),
)
_STREAK = select(Task.consecutive_failures).where(Task.id == bindparam("settled_task"))


def claim(db: Connection, execution_id: int, worker: str, now: datetime) -> Claim | None:
    """Claim an execution for `worker`, reading its task's fields with it; None if
    another worker has it."""
    values = {"execution_id": execution_id, "claimer": worker, "claimed_at": now}
    if is_postgresql(db):
        row = prepared(_CLAIM_WITH_TASK, db.dialect).first(db, values)
        return None if row is None else _claim(row)
    execution = db.execute(_CLAIM, values).first()
    if execution is None:
        return None
    task = db.execute(_TASK_FOR_RUN, {"claimed_task": execution.task_id}).first()
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
    return db.execute(_FINISH, _finish_values(run, outcome)).first() is not None


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
    values = _finish_values(run, outcome)
    if run.test_mode:  # a test run leaves no mark on its task
        return Succeeded() if db.execute(_FINISH, values).first() is not None else None
    values.update(
        settled_task=run.task_id,
        settled_success_at=outcome.finished_at,
    )
    if is_postgresql(db):
        row = prepared(_FINISH_AND_SETTLE, db.dialect).first(db, values)
        return None if row is None else Succeeded(row[1] or 0)
    if db.execute(_FINISH, values).first() is None:
        return None
    # SQLite's RETURNING sees only the new row: read the streak first, in this transaction.
    streak = db.scalar(_STREAK, values)
    db.execute(_SETTLE_TASK, values)
    return Succeeded(streak or 0)


def warm_up(db: Connection, worker: str, now: datetime) -> None:
    """Claim and finish an execution id no row has (0): nothing changes, and the server
    has prepared and planned both statements, and loaded what it knows of the tables and
    indexes they touch, before a process's first real run pays for it (about 10 ms)."""
    claim(db, 0, worker, now)
    nothing = RunningExecution(0, 0, "", now, 0, 1, None, False, now, worker)
    finish_successfully(db, nothing, OutcomeValues(ExecutionStatus.SUCCEEDED, now, 0.0))


def _finish_values(run: RunningExecution, outcome: OutcomeValues) -> dict[str, Any]:
    values = {f"outcome_{name}": value for name, value in outcome.columns().items()}
    values.update(execution_id=run.id, claimer=run.worker)
    return values
