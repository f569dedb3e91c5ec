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
    TableValuedAlias,
    any_,
    bindparam,
    func,
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


def unnested(
    name: str, columns: Sequence[ColumnElement[Any]], rows: Sequence[Sequence[Any]]
) -> TableValuedAlias:
    """`rows` as a table named `name` with `columns`' names, for PostgreSQL: one array
    parameter per column, unnested side by side (`unnest(:a, :b) AS name(a, b)`).

    A thousand rows cost one short statement that PostgreSQL parses once, where a
    VALUES list would carry a placeholder for every value of every row.
    """
    arrays = [
        bindparam(f"{name}_{column.key}", [row[i] for row in rows], type_=ARRAY(column.type))
        for i, column in enumerate(columns)
    ]
    keys = [str(column.key) for column in columns]
    return func.unnest(*arrays).table_valued(*keys).render_derived(name=name)


def bind_of(db: Executor) -> Engine | Connection:
    return db.get_bind() if isinstance(db, Session) else db


def rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def read_utc(value: datetime | str) -> datetime:
    """A time computed in SQL (min(), coalesce()), which SQLite hands back untyped."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
