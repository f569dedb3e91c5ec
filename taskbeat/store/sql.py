"""Small SQL helpers the store's modules share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    any_,
    bindparam,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from taskbeat.db import is_postgresql

Executor = Session | Connection


def id_in(
    column: InstrumentedAttribute[int], ids: Sequence[int], db: Executor
) -> ColumnElement[bool]:
    """`column` is one of `ids`: one array parameter on PostgreSQL (`= ANY(:ids)`), which
    costs the same for ten ids or ten thousand; an IN list elsewhere."""
    if is_postgresql(bind_of(db)):
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger()), unique=True))
    return column.in_(list(ids))


def bind_of(db: Executor) -> Engine | Connection:
    return db.get_bind() if isinstance(db, Session) else db


def rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def read_utc(value: datetime | str) -> datetime:
    """A time computed in SQL (min(), coalesce()), which SQLite hands back untyped."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
