"""Small SQL helpers the store's modules share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Float,
    Integer,
    any_,
    bindparam,
    func,
    or_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.functions import FunctionElement

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
) -> dict[str, ColumnElement[Any]]:
    """`rows` as SQL columns by `columns`' keys, for PostgreSQL: one array parameter per
    column, unnested side by side (`unnest(:a, :b) AS name(a, b)`), where a column holds
    the same value in every row (a dispatch's status, trigger, creation time, ...), one
    plain parameter for it.

    A thousand rows cost one short statement that PostgreSQL parses once, where a
    VALUES list would carry a placeholder for every value of every row. psycopg writes
    an array value by value in Python, with a regular expression each: the plain
    parameters took a third off a 10,000-slot dispatch (bench/dispatch.py).
    """
    by_column = [(column, [row[i] for row in rows]) for i, column in enumerate(columns)]
    varying = [(column, values) for column, values in by_column if _varies(values)]
    found: dict[str, ColumnElement[Any]] = {
        str(column.key): bindparam(f"{name}_{column.key}", values[0], type_=column.type)
        for column, values in by_column
        if not _varies(values)
    }
    if varying:
        arrays = [
            bindparam(f"{name}_{column.key}", values, type_=ARRAY(column.type))
            for column, values in varying
        ]
        keys = [str(column.key) for column, _ in varying]
        table = func.unnest(*arrays).table_valued(*keys).render_derived(name=name)
        found.update((key, table.c[key]) for key in keys)
    return {str(column.key): found[str(column.key)] for column in columns}


def _varies(values: list[Any]) -> bool:
    return values.count(values[0]) != len(values)  # a column's values share one type


def one_of(column: InstrumentedAttribute[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column` equals one of a fixed few `values`, as plain comparisons: an IN list is an
    "expanding" parameter SQLAlchemy re-renders on every execution, which on the worker's
    hot statements cost more than running them."""
    return or_(*(column == value for value in sorted(values)))


def bind_of(db: Executor) -> Engine | Connection:
    return db.get_bind() if isinstance(db, Session) else db


def rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def read_utc(value: datetime | str) -> datetime:
    """A time computed in SQL (min(), coalesce()), which SQLite hands back untyped."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class epoch(FunctionElement[float]):
    """A UTC time column as seconds since 1970, in SQL (each database spells it its way)."""

    type = Float()
    name = "epoch"
    inherit_cache = True


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    # EXTRACT gives a numeric; a float mixes with the float columns in Python.
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC times as text; julianday() reads them (2440587.5 is 1970-01-01).
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


class floor_int(FunctionElement[int]):
    """The largest integer not above a (non-negative) number."""

    type = Integer()
    name = "floor_int"
    inherit_cache = True


@compiles(floor_int, "postgresql")
def _floor_postgresql(element: floor_int, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: Any, **kw: Any) -> str:
    # CAST truncates, which is floor for the non-negative numbers this is used on.
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"
