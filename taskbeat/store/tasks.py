"""Task rows: by id or name, the scheduler's due scan, and which tasks are running."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from taskbeat.errors import NotFound
from taskbeat.limits import MAX_ID
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus
from taskbeat.store.sql import Executor


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


def due_tasks(session: Session, now: datetime, limit: int) -> Sequence[Task]:
    """Tasks whose next slot has come, oldest first, locked for this transaction.

    Reads only the `next_run_at` index, so the cost follows what is due, not how many
    tasks exist. SKIP LOCKED lets several schedulers take disjoint batches.
    """
    query = (
        select(Task)
        .where(Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(query).all()


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
            Execution.task_id.in_(wanted),
            Execution.status == ExecutionStatus.RUNNING,
            Execution.test_mode.is_(False),
        )
        .distinct()
    )
    return set(db.scalars(query))


def number_manual_run(session: Session, task_id: int) -> int:
    """The next manual run's number for this task (1, 2, ...), taken atomically."""
    number = session.scalar(
        update(Task)
        .where(Task.id == task_id)
        .values(manual_runs=Task.manual_runs + 1)
        .returning(Task.manual_runs)
    )
    if number is None:
        raise NotFound(f"no task {task_id}")
    return int(number)
