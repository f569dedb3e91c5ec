"""Task rows: by id or name, the scheduler's due scan, and which tasks are running."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from taskbeat.db import is_postgresql
from taskbeat.errors import NotFound
from taskbeat.limits import MAX_ID
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, MisfirePolicy, OverlapPolicy
from taskbeat.store.sql import Executor, bind_of, id_in, unnested
from taskbeat.tasks.state import TaskState


def get_task(session: Session, ref: str | int, *, for_update: bool = False) -> Task:
    """A task by id (all digits) or by name; NotFound otherwise."""
    query = select(Task)
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        if int(ref) > MAX_ID:
            raise NotFound(f"no task {ref!r}")
        query = query.where(Task.id == int(ref))
    elif "\x00" in ref:  # no name holds one, and PostgreSQL refuses it in a query
        raise NotFound(f"no task {ref!r}")
    else:
        query = query.where(Task.name == ref)
    if for_update:
        query = query.with_for_update()
    task = session.scalars(query).one_or_none()
    if task is None:
        raise NotFound(f"no task {ref!r}")
    return task


def lock_task(session: Session, task_id: int) -> Task | None:
    """The task row, locked for this transaction; None if it was deleted."""
    return session.scalars(select(Task).where(Task.id == task_id).with_for_update()).first()


def task_name_exists(session: Session, name: str) -> bool:
    return session.scalar(select(func.count()).where(Task.name == name)) != 0


@dataclass(frozen=True)
class DueTask:
    """What dispatching reads of a due task: a plain row, not an ORM object (loading
    thousands of those was most of a large dispatch's cost)."""

    id: int
    name: str
    schedule: str
    timezone: str
    enabled: bool
    recurring: bool
    state: TaskState
    start_at: datetime | None
    end_at: datetime | None
    max_runs: int | None
    run_count: int
    created_at: datetime
    last_slot_at: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    misfire: MisfirePolicy
    misfire_grace: float
    overlap: OverlapPolicy
    jitter: float
    queue: str
    priority: int
    timeout: float | None


_DUE_COLUMNS = tuple(getattr(Task, field.name) for field in fields(DueTask))


def due_tasks(db: Executor, now: datetime, limit: int) -> list[DueTask]:
    """Tasks whose next slot has come, oldest first, locked for this transaction.

    Reads only the `next_run_at` index, so the cost follows what is due, not how many
    tasks exist. SKIP LOCKED lets several schedulers take disjoint batches.
    """
    query = (
        select(*_DUE_COLUMNS)
        .where(Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueTask(*row) for row in db.execute(query)]


@dataclass(frozen=True)
class TaskAdvance:
    """Where dispatching leaves a task: its next slot and its counters."""

    id: int
    next_run_at: datetime | None
    run_count: int
    last_slot_at: datetime | None
    last_run_at: datetime | None
    state: TaskState


_ADVANCE_COLUMNS = tuple(getattr(Task, field.name) for field in fields(TaskAdvance))


def advance_tasks(db: Executor, advances: Sequence[TaskAdvance]) -> None:
    """Write each task's new position, in one statement."""
    if not advances:
        return
    # Not dataclasses.astuple: it deep-copies every value.
    rows = [
        (a.id, a.next_run_at, a.run_count, a.last_slot_at, a.last_run_at, a.state) for a in advances
    ]
    if is_postgresql(bind_of(db)):
        moved = unnested("moved", _ADVANCE_COLUMNS, rows)
        changes = {column.key: moved[column.key] for column in _ADVANCE_COLUMNS[1:]}
        db.execute(update(Task).where(Task.id == moved["id"]).values(changes))
        return
    names = [column.key for column in _ADVANCE_COLUMNS]
    statement = (
        update(Task)
        .where(Task.id == bindparam("moved_id"))
        .values({name: bindparam(f"moved_{name}") for name in names[1:]})
    )
    db.execute(
        statement, [{f"moved_{n}": v for n, v in zip(names, row, strict=True)} for row in rows]
    )


def earliest_next_run(db: Executor) -> datetime | None:
    return db.scalar(select(func.min(Task.next_run_at)))


def running_task_ids(db: Executor, task_ids: Iterable[int]) -> set[int]:
    """Which of these tasks have a run in progress (test runs aside): the `running`
    status, derived from the executions rather than written on every claim."""
    wanted = list(task_ids)
    if not wanted:
        return set()
    query = (
        select(Execution.task_id)
        .where(
            id_in(Execution.task_id, wanted, db),
            Execution.status == ExecutionStatus.RUNNING,
            Execution.test_mode.is_(False),
        )
        .distinct()
    )
    return set(db.scalars(query))


def number_manual_run(session: Session, task_id: int, now: datetime, *, test: bool) -> int:
    """The next manual run's number for this task (1, 2, ...), taken atomically; a run
    that is not a test run is also the task's latest run."""
    changes: dict[str, Any] = {"manual_runs": Task.manual_runs + 1}
    if not test:
        changes["last_run_at"] = now
    number = session.scalar(
        update(Task).where(Task.id == task_id).values(changes).returning(Task.manual_runs)
    )
    if number is None:
        raise NotFound(f"no task {task_id}")
    return int(number)


def longest_timeout(db: Executor) -> float | None:
    """The longest time limit any task has; None if none has one."""
    return db.scalar(select(func.max(Task.timeout)))
