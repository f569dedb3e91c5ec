"""The outbox's queries: executions due to be published, their publish leases, and the
marks after publishing. `taskbeat.outbox.relay` runs them in order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from taskbeat.models import Execution, Task
from taskbeat.outbox.messages import RunMessage
from taskbeat.status import ExecutionStatus, OverlapPolicy, Trigger, allowed_sources
from taskbeat.store.sql import Executor, id_in, read_utc

_other = aliased(Execution, name="other_run")


def _publishable() -> tuple[ColumnElement[bool], ...]:
    """Executions a scheduler should publish once due.

    A paused task's retries wait; manual runs do not. With overlap `queue_one` a run
    is held while another of the task's runs is in progress or waiting ahead of it, so
    they go one at a time, in order.
    """
    held = and_(
        Task.overlap == OverlapPolicy.QUEUE_ONE,
        Execution.test_mode.is_(False),
        exists().where(
            _other.task_id == Execution.task_id,
            _other.test_mode.is_(False),
            or_(
                _other.status.in_((ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)),
                and_(_other.status == ExecutionStatus.SCHEDULED, _other.id < Execution.id),
            ),
        ),
    )
    return (
        Execution.status == ExecutionStatus.SCHEDULED,
        or_(Task.enabled.is_(True), Execution.trigger == Trigger.MANUAL),
        ~held,
    )


_MESSAGE_COLUMNS = (Execution.id, Task.queue, Task.priority, Task.timeout)


def _messages(rows: Iterable[Sequence[Any]]) -> list[RunMessage]:
    return [RunMessage(row[0], row[1], row[2], row[3]) for row in rows]


def lease_due(db: Executor, now: datetime, lease_until: datetime, limit: int) -> list[RunMessage]:
    """Take the publish lease on executions due now that nobody holds; their messages.

    Covers retries, manual runs whose fast-path publish failed, slots held back by jitter
    or by `queue_one`, and rows a crashed scheduler committed but never published.
    SKIP LOCKED: schedulers running side by side take disjoint rows.
    """
    query = (
        select(*_MESSAGE_COLUMNS)
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
    messages = _messages(db.execute(query))
    lease(db, [message.execution_id for message in messages], lease_until)
    return messages


def earliest_due(db: Executor) -> datetime | None:
    """When the next execution becomes publishable (a leased one: when its lease ends)."""
    when = func.coalesce(Execution.publish_lease_until, Execution.due_at)
    query = select(func.min(when)).join(Task, Task.id == Execution.task_id).where(*_publishable())
    value = db.scalar(query)
    return read_utc(value) if value is not None else None


def lease(db: Executor, execution_ids: Sequence[int], until: datetime | None) -> None:
    """Hold these executions for this publisher until `until` (None: release them)."""
    if execution_ids:
        db.execute(
            update(Execution)
            .where(id_in(Execution.id, execution_ids, db))
            .values(publish_lease_until=until)
            .execution_options(synchronize_session=False)
        )


def mark_queued(db: Executor, execution_ids: Sequence[int], now: datetime) -> None:
    """After publishing: scheduled -> queued. A row a worker already claimed is left alone."""
    if execution_ids:
        db.execute(
            update(Execution)
            .where(
                id_in(Execution.id, execution_ids, db),
                Execution.status.in_(allowed_sources(ExecutionStatus.QUEUED)),
            )
            .values(status=ExecutionStatus.QUEUED, enqueued_at=now, publish_lease_until=None)
            .execution_options(synchronize_session=False)
        )


def queued_before(
    db: Executor, cutoff: datetime | None, limit: int, *, after_id: int = 0
) -> list[RunMessage]:
    """Messages of unclaimed executions published before `cutoff` (any, if None), in id
    order from `after_id` on, for paging."""
    query = (
        select(*_MESSAGE_COLUMNS)
        .join(Task, Task.id == Execution.task_id)
        .where(Execution.status == ExecutionStatus.QUEUED, Execution.id > after_id)
        .order_by(Execution.id)
        .limit(limit)
    )
    if cutoff is not None:
        query = query.where(Execution.enqueued_at < cutoff)
    return _messages(db.execute(query))


def mark_requeued(db: Executor, execution_ids: Sequence[int], now: datetime) -> None:
    """Published again: the queue wait counts from now (rows claimed meanwhile keep theirs)."""
    if execution_ids:
        db.execute(
            update(Execution)
            .where(
                id_in(Execution.id, execution_ids, db),
                Execution.status == ExecutionStatus.QUEUED,
            )
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
