"""Statements of the worker's hot path, run on psycopg's cursor, prepared on the server.

A run's claim and its success are one statement each, and on PostgreSQL SQLAlchemy's
execution machinery (a compiled-cache lookup, an execution context, a result object
built from the cursor's description) costs the worker process more CPU than psycopg
sending the statement: about 100 µs a statement, a fifth of a no-op run's Python
(measured in bench/README.md). A `PreparedStatement` keeps what SQLAlchemy gives that
the hot path needs and drops the rest:

1. The statement is written once with SQLAlchemy and compiled once per dialect; its
   bind and result types convert values as `Connection.execute` would (enums, JSON,
   aware UTC datetimes).
2. It runs on the connection's psycopg cursor with `prepare=True`: PostgreSQL plans it
   once per connection.
3. The engine's `before_cursor_execute` and `after_cursor_execute` listeners are told
   of it (statement counts still see it; a listener cannot rewrite it).
4. A driver error is raised as SQLAlchemy's (`DataError`, `OperationalError`, ...),
   and a dropped connection is invalidated with `connection_invalidated` set, as
   `Connection.execute` does: the caller's retry on a fresh connection still works.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.exc import DBAPIError

Convert = Callable[[Any], Any]


class PreparedStatement:
    """A SELECT (it may wrap data-modifying CTEs), compiled for one dialect."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._dialect = dialect
        self._binds: dict[str, Convert | None] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        # The statement's own values (the statuses it compares with, the literals it
        # writes), converted once.
        self._constants = {
            name: self._convert(name, value)
            for name, value in compiled.params.items()
            if not compiled.binds[name].required
        }
        self._results: tuple[Convert | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run it with `values` (by bind parameter name); the first row, or None."""
        params = dict(self._constants)
        binds = self._binds
        for name, value in values.items():
            convert = binds[name]  # a name the statement lacks is a KeyError
            params[name] = value if convert is None else convert(value)
        driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
        cursor = driver.cursor()
        connection.dispatch.before_cursor_execute(connection, cursor, self.sql, params, None, False)
        try:
            cursor.execute(self.sql, params, prepare=True)
            row = cursor.fetchone()
        except psycopg.Error as exc:
            raise self._wrapped(connection, cursor, params, exc) from exc
        finally:
            cursor.close()
        connection.dispatch.after_cursor_execute(connection, cursor, self.sql, params, None, False)
        if row is None:
            return None
        return tuple(
            value if convert is None else convert(value)
            for convert, value in zip(self._results, row, strict=True)
        )

    def _convert(self, name: str, value: Any) -> Any:
        convert = self._binds[name]  # a name the statement lacks is a KeyError
        return value if convert is None else convert(value)

    def _wrapped(
        self, connection: Connection, cursor: Any, params: dict[str, Any], exc: psycopg.Error
    ) -> DBAPIError:
        driver = connection.connection.dbapi_connection
        dropped = self._dialect.is_disconnect(cast(Any, exc), driver, cursor)
        if dropped:
            connection.invalidate(exc)
        wrapped = DBAPIError.instance(
            self.sql,
            params,
            exc,
            psycopg.Error,
            connection_invalidated=dropped,
            dialect=self._dialect,
        )
        assert isinstance(wrapped, DBAPIError)  # it wraps a driver error
        return wrapped


@functools.lru_cache(maxsize=64)
def prepared(statement: Select[Any], dialect: Dialect) -> PreparedStatement:
    """`statement` compiled for `dialect` (an engine's), once."""
    return PreparedStatement(statement, dialect)
