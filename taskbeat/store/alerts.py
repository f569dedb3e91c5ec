"""Alert deliveries: written with the outcome that caused them, leased and marked by the
scheduler's sender."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from taskbeat.models import AlertDelivery, Task
from taskbeat.status import AlertEvent, DeliveryStatus
from taskbeat.store.sql import Executor


@dataclass(frozen=True)
class Notice:
    """A notice to queue (built by `taskbeat.alerts.notices`)."""

    task_id: int
    task_name: str
    event: AlertEvent
    execution_id: int
    payload: dict[str, Any]
    created_at: datetime


def add_delivery(db: Executor, notice: Notice) -> None:
    """Queue a notice for sending, to the task's webhook as it is now (NULL: the default)."""
    task_webhook = select(Task.webhook_url).where(Task.id == notice.task_id).scalar_subquery()
    db.execute(
        insert(AlertDelivery).values(
            task_id=notice.task_id,
            task_name=notice.task_name,
            event=notice.event,
            execution_id=notice.execution_id,
            url=task_webhook,
            payload=notice.payload,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=notice.created_at,
            created_at=notice.created_at,
        )
    )


@dataclass(frozen=True)
class DueDelivery:
    id: int
    url: str | None
    payload: dict[str, Any]
    attempts: int  # including the one about to be made


def lease_due(
    session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[DueDelivery]:
    """Take pending deliveries due now: each attempt is counted and the row is held until
    `lease_until` (a sender that dies mid-send leaves it to be tried again then)."""
    query = (
        select(AlertDelivery)
        .where(
            AlertDelivery.status == DeliveryStatus.PENDING,
            AlertDelivery.next_attempt_at <= now,
        )
        .order_by(AlertDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    return [DueDelivery(row.id, row.url, dict(row.payload), row.attempts) for row in rows]


def mark(
    db: Executor,
    delivery_id: int,
    status: DeliveryStatus,
    *,
    now: datetime,
    next_attempt_at: datetime | None = None,
    response_status: int | None = None,
    error: str | None = None,
) -> None:
    """Record one attempt's answer: sent, failed for good, or pending until next time."""
    values: dict[str, Any] = {
        "status": status,
        "response_status": response_status,
        "last_error": error,
    }
    if status is DeliveryStatus.SENT:
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    db.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def recent_deliveries(db: Executor, limit: int) -> Sequence[AlertDelivery]:
    """The newest deliveries, for the dashboard."""
    query = select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit)
    return list(db.execute(query).scalars())
