"""Execution rows: inserting them (one per slot and attempt), compare-and-set moves,
the overlap check, cancelling what has not started, and pruning history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from taskbeat.db import is_postgresql
from taskbeat.errors import NotFound
from taskbeat.limits import MAX_ID
from taskbeat.models import Execution
from taskbeat.status import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    ExecutionStatus,
    Trigger,
    allowed_sources,
)
from taskbeat.store.sql import Executor, bind_of, rowcount, unnested

SLOT_KEY = ("task_id", "scheduled_for", "manual_run", "attempt")  # the unique key
SlotKey = tuple[int, datetime, int, int]


def get_execution(session: Session, execution_id: int) -> Execution:
    execution = session.get(Execution, execution_id) if execution_id <= MAX_ID else None
    if execution is None:
        raise NotFound(f"no execution {execution_id}")
    return execution


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
    manual_run: int = 0
    attempt: int = 1
    params: dict[str, Any] | None = None
    test_mode: bool = False
    publish_lease_until: datetime | None = None
    finished_at: datetime | None = None
    error_message: str | None = None

    def key(self) -> SlotKey:
        return (self.task_id, self.scheduled_for, self.manual_run, self.attempt)

    def values(self) -> tuple[Any, ...]:
        # Not dataclasses.astuple: its deep copy of every datetime and enum was a third of
        # a 10,000-run dispatch (bench/dispatch.py).
        return tuple(getattr(self, name) for name in _NEW_EXECUTION_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(_NEW_EXECUTION_FIELDS, self.values(), strict=True))


_NEW_EXECUTION_FIELDS = tuple(field.name for field in fields(NewExecution))
_INSERT_COLUMNS = tuple(getattr(Execution, name) for name in _NEW_EXECUTION_FIELDS)


def first_attempt(
    task_id: int, task_name: str, slot: datetime, now: datetime, **values: Any
) -> NewExecution:
    """Attempt 1 of one of the task's slots, scheduled for the slot; `values` override."""
    defaults = {
        "trigger": Trigger.SCHEDULE,
        "due_at": slot,
        "status": ExecutionStatus.SCHEDULED,
    }
    # One constructor call, not a row and then dataclasses.replace (twice the cost).
    return NewExecution(
        task_id=task_id, task_name=task_name, scheduled_for=slot, created_at=now,
        **{**defaults, **values},
    )  # fmt: skip


def insert_executions(db: Executor, rows: Sequence[NewExecution]) -> dict[SlotKey, int]:
    """Insert execution rows in one statement; the new ids by slot key.

    A row whose (task, slot, manual run, attempt) exists already is not inserted and not
    returned: the unique key, not luck, keeps a slot from being enqueued twice.
    """
    if not rows:
        return {}
    returning = (Execution.id, *(getattr(Execution, name) for name in SLOT_KEY))
    if is_postgresql(bind_of(db)):
        added = unnested("added", _INSERT_COLUMNS, [row.values() for row in rows])
        statement = (
            postgresql_insert(Execution)
            .from_select(list(added), select(*added.values()))
            .on_conflict_do_nothing(index_elements=list(SLOT_KEY))
            .returning(*returning)
        )
        result = db.execute(statement)
    else:
        insert = sqlite_insert(Execution).on_conflict_do_nothing(index_elements=list(SLOT_KEY))
        result = db.execute(insert.returning(*returning), [row.as_dict() for row in rows])
    return {(task_id, slot, manual, attempt): id_ for id_, task_id, slot, manual, attempt in result}


def transition(db: Executor, execution_id: int, target: ExecutionStatus, **values: Any) -> bool:
    """Move an execution to `target` if its status allows it (a compare-and-set).

    False means another process moved it first; the caller then does nothing.
    """
    result = db.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status.in_(allowed_sources(target)))
        .values(status=target, **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


@dataclass(frozen=True)
class ActiveRuns:
    """A task's runs that have not finished (test runs aside), for the overlap policy."""

    in_flight: int = 0  # queued or running
    waiting: int = 0  # written and not yet published (due later, or held)

    @property
    def any(self) -> bool:
        return self.in_flight + self.waiting > 0


NO_ACTIVE_RUNS = ActiveRuns()


def active_runs(db: Executor, task_ids: Iterable[int]) -> dict[int, ActiveRuns]:
    """The unfinished runs of each of these tasks that has any."""
    query = (
        select(Execution.task_id, Execution.status, func.count())
        .where(
            Execution.task_id.in_(list(task_ids)),
            Execution.status.in_(ACTIVE_STATUSES),
            Execution.test_mode.is_(False),
        )
        .group_by(Execution.task_id, Execution.status)
    )
    counts: dict[int, dict[ExecutionStatus, int]] = {}
    for task_id, status, count in db.execute(query):
        counts.setdefault(task_id, {})[status] = count
    return {
        task_id: ActiveRuns(
            in_flight=by_status.get(ExecutionStatus.QUEUED, 0)
            + by_status.get(ExecutionStatus.RUNNING, 0),
            waiting=by_status.get(ExecutionStatus.SCHEDULED, 0),
        )
        for task_id, by_status in counts.items()
    }


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
    return rowcount(result)


def prune_executions(session: Session, finished_before: datetime) -> int:
    """Delete finished executions older than `finished_before`; how many went."""
    result = session.execute(
        delete(Execution)
        .where(Execution.status.in_(FINAL_STATUSES), Execution.finished_at < finished_before)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
