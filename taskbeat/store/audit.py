"""The audit trail: one row per change made through the API, or per refused request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from taskbeat.models import AuditEntry
from taskbeat.status import ApiRole


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    key_id: int | None
    role: ApiRole | None
    action: str
    method: str
    target: str | None
    status: int
    outcome: str
    request_id: str


def add_entry(session: Session, record: AuditRecord) -> None:
    session.execute(insert(AuditEntry).values(**asdict(record)))


def list_entries(session: Session, *, before_id: int | None, limit: int) -> Sequence[AuditEntry]:
    """Newest first, by id (the primary key serves the order and the cursor)."""
    query = select(AuditEntry)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
