"""The queries. A query needed in two places lives here, once.

Every function takes a session inside a transaction the caller owns; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from taskbeat.errors import NotFound
from taskbeat.models import MAX_ID, Execution, Task
from taskbeat.status import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    ExecutionStatus,
    Trigger,
    allowed_sources,
)

# --- tasks --------------------------------------------------------------------------


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


def earliest_next_run(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Task.next_run_at)))


# --- executions ---------------------------------------------------------------------


def get_execution(session: Session, execution_id: int) -> Execution:
    execution = session.get(Execution, execution_id) if execution_id <= MAX_ID else None
    if execution is None:
        raise NotFound(f"no execution {execution_id}")
    return execution


SlotKey = tuple[int | None, datetime, int]  # (task_id, scheduled_for, attempt)


@dataclass(frozen=True)
class NewExecution:
    """An execution row to insert, with every column an insert sets."""

    task_id: int
    task_name: str
    trigger: Trigger
    scheduled_for: datetime  # the slot; a retry keeps its slot
    due_at: datetime  # when it may be published
    status: ExecutionStatus
    created_at: datetime
    attempt: int = 1
    params: dict[str, Any] | None = None
    test_mode: bool = False
    publish_lease_until: datetime | None = None
    finished_at: datetime | None = None
    error_message: str | None = None

    def key(self) -> SlotKey:
        return (self.task_id, self.scheduled_for, self.attempt)

    def values(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy of every datetime and enum was a third of
        # a 10,000-run dispatch (bench/dispatch.py).
        return {name: getattr(self, name) for name in _NEW_EXECUTION_FIELDS}


def first_attempt(task: Task, slot: datetime, now: datetime, **values: Any) -> NewExecution:
    """Attempt 1 of one of the task's slots, scheduled for the slot; `values` override."""
    row = NewExecution(
        task_id=task.id,
        task_name=task.name,
        trigger=Trigger.SCHEDULE,
        scheduled_for=slot,
        due_at=slot,
        status=ExecutionStatus.SCHEDULED,
        created_at=now,
    )
    return replace(row, **values)


_NEW_EXECUTION_FIELDS = tuple(field.name for field in fields(NewExecution))


def add_executions(session: Session, rows: Sequence[NewExecution]) -> dict[SlotKey, int]:
    """Insert execution rows in one statement; the new ids by (task, slot, attempt).

    A row whose (task, slot, attempt) exists already is not inserted and not returned:
    the unique key, not luck, is what keeps a slot from being enqueued twice.
    """
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Execution)
        .on_conflict_do_nothing(index_elements=["task_id", "scheduled_for", "attempt"])
        .returning(Execution.id, Execution.task_id, Execution.scheduled_for, Execution.attempt)
    )
    result = session.execute(statement, [row.values() for row in rows])
    return {(task_id, slot, attempt): id_ for id_, task_id, slot, attempt in result}


def lock_task_of(session: Session, execution_id: int) -> Task | None:
    """Lock the task an execution belongs to (None if it has none any more).

    Every writer locks a task before its executions: the API locks the task to edit or
    delete it (deleting touches the executions' foreign key), so a worker or sweeper
    that locked an execution first could deadlock with it.
    """
    task_id = session.scalar(select(Execution.task_id).where(Execution.id == execution_id))
    if task_id is None:
        return None
    return session.scalars(select(Task).where(Task.id == task_id).with_for_update()).first()


def transition(session: Session, execution_id: int, target: ExecutionStatus, **values: Any) -> bool:
    """Move an execution to `target` if its status allows it (a compare-and-set).

    False means another process moved it first; the caller then does nothing.
    """
    result = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status.in_(allowed_sources(target)))
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def tasks_with_active_executions(session: Session, task_ids: Iterable[int]) -> set[int]:
    """Tasks with a run scheduled, queued or running (test runs do not count)."""
    query = (
        select(Execution.task_id)
        .where(
            Execution.task_id.in_(list(task_ids)),
            Execution.status.in_(ACTIVE_STATUSES),
            Execution.test_mode.is_(False),
        )
        .distinct()
    )
    return {task_id for task_id in session.scalars(query) if task_id is not None}


def has_other_running(session: Session, task_id: int, execution_id: int) -> bool:
    query = select(func.count()).where(
        Execution.task_id == task_id,
        Execution.status == ExecutionStatus.RUNNING,
        Execution.id != execution_id,
    )
    return bool(session.scalar(query))


def has_pending(session: Session, task_id: int) -> bool:
    """Whether the task has an execution still waiting to run (a retry, a manual run)."""
    query = select(func.count()).where(
        Execution.task_id == task_id,
        Execution.status.in_((ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED)),
    )
    return bool(session.scalar(query))


def _publishable() -> tuple[ColumnElement[bool], ...]:
    """Executions a scheduler should publish once due. A paused task's retries wait;
    manual runs do not."""
    return (
        Execution.status == ExecutionStatus.SCHEDULED,
        or_(Task.enabled.is_(True), Execution.trigger == Trigger.MANUAL),
    )


def due_executions(session: Session, now: datetime, limit: int) -> Sequence[tuple[Execution, Task]]:
    """Executions due to be published that no scheduler holds a lease on, locked.

    Covers retries, manual runs whose fast-path publish failed, and rows a crashed
    scheduler committed but never published.
    """
    query = (
        select(Execution, Task)
        .join(Task, Task.id == Execution.task_id)
        .where(
            *_publishable(),
            Execution.due_at <= now,
            or_(Execution.publish_lease_until.is_(None), Execution.publish_lease_until < now),
        )
        .order_by(Execution.due_at)
        .limit(limit)
        .with_for_update(of=Execution, skip_locked=True)
    )
    return [(row[0], row[1]) for row in session.execute(query).all()]


def earliest_due_execution(session: Session) -> datetime | None:
    """When the next execution becomes publishable (a leased one: when its lease ends)."""
    when = func.coalesce(Execution.publish_lease_until, Execution.due_at)
    query = select(func.min(when)).join(Task, Task.id == Execution.task_id).where(*_publishable())
    value = session.scalar(query)
    # min() over a computed expression loses the column type on SQLite.
    return _read_utc(value) if value is not None else None


def lease_executions(
    session: Session, execution_ids: Sequence[int], until: datetime | None
) -> None:
    if execution_ids:
        session.execute(
            update(Execution)
            .where(Execution.id.in_(execution_ids))
            .values(publish_lease_until=until)
            .execution_options(synchronize_session=False)
        )


def mark_queued(session: Session, execution_ids: Sequence[int], now: datetime) -> None:
    """After publishing: scheduled -> queued. A row a worker already claimed is left alone."""
    if execution_ids:
        session.execute(
            update(Execution)
            .where(
                Execution.id.in_(execution_ids),
                Execution.status.in_(allowed_sources(ExecutionStatus.QUEUED)),
            )
            .values(status=ExecutionStatus.QUEUED, enqueued_at=now, publish_lease_until=None)
            .execution_options(synchronize_session=False)
        )


def stale_running(
    session: Session, heartbeat_before: datetime, limit: int
) -> Sequence[tuple[int, float | None]]:
    """Running executions whose worker stopped heartbeating: (id, the task's timeout).

    Not locked here: each is then settled by a compare-and-set, task row first.
    """
    query = (
        select(Execution.id, Task.timeout)
        .outerjoin(Task, Task.id == Execution.task_id)
        .where(
            Execution.status == ExecutionStatus.RUNNING,
            Execution.heartbeat_at < heartbeat_before,
        )
        .order_by(Execution.heartbeat_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(query).all()]


def queued_before(
    session: Session, cutoff: datetime | None, limit: int
) -> Sequence[tuple[Execution, Task]]:
    """Executions published before `cutoff` (any, if None) that no worker has claimed."""
    query = (
        select(Execution, Task)
        .join(Task, Task.id == Execution.task_id)
        .where(Execution.status == ExecutionStatus.QUEUED)
        .order_by(Execution.enqueued_at)
        .limit(limit)
    )
    if cutoff is not None:
        query = query.where(Execution.enqueued_at < cutoff)
    return [(row[0], row[1]) for row in session.execute(query).all()]


def mark_requeued(session: Session, execution_ids: Sequence[int], now: datetime) -> None:
    """Published again: the queue wait counts from now (rows claimed meanwhile keep theirs)."""
    if execution_ids:
        session.execute(
            update(Execution)
            .where(Execution.id.in_(execution_ids), Execution.status == ExecutionStatus.QUEUED)
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )


def touch_heartbeat(session: Session, execution_id: int, now: datetime) -> bool:
    result = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status == ExecutionStatus.RUNNING)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def last_finished_execution(session: Session, task_id: int, before_id: int) -> Execution | None:
    query = (
        select(Execution)
        .where(
            Execution.task_id == task_id,
            Execution.id < before_id,
            Execution.status.in_(FINAL_STATUSES - {ExecutionStatus.SKIPPED}),
        )
        .order_by(Execution.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def cancel_pending(
    session: Session, task_id: int, now: datetime, *, retries_only: bool = False
) -> int:
    """Cancel the task's executions that have not started; how many were cancelled."""
    query = update(Execution).where(
        Execution.task_id == task_id,
        Execution.status.in_(
            allowed_sources(ExecutionStatus.CANCELLED) - {ExecutionStatus.RUNNING}
        ),
    )
    if retries_only:
        query = query.where(Execution.trigger == Trigger.RETRY)
    result = session.execute(
        query.values(
            status=ExecutionStatus.CANCELLED, finished_at=now, publish_lease_until=None
        ).execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def prune_executions(session: Session, finished_before: datetime) -> int:
    """Delete finished executions older than `finished_before`; how many went."""
    result = session.execute(
        delete(Execution)
        .where(Execution.status.in_(FINAL_STATUSES), Execution.finished_at < finished_before)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def _read_utc(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
