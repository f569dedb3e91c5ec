"""The hot path's statements run on the driver (taskbeat.store.prepared), on a real
PostgreSQL: they read and write values as `Connection.execute` does, are prepared on the
server, are seen by the engine's listeners, and fail as SQLAlchemy errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, literal, select, text, update
from sqlalchemy.exc import DataError, DBAPIError

from taskbeat.db import ProcessKind, make_engine, one_statement
from taskbeat.models import Execution, Task
from taskbeat.status import OverlapPolicy
from taskbeat.store.prepared import PreparedStatement

# A data-modifying CTE like the hot path's: it writes a JSON value and a literal, and
# reads back an enum, JSON, an aware datetime and a NULL.
_TOUCHED = (
    update(Task)
    .where(Task.id == bindparam("task"))
    .values(params=bindparam("new_params"), consecutive_failures=0)
    .returning(Task.id, Task.overlap, Task.params, Task.created_at, Task.last_success_at)
    .cte("touched")
)
_TOUCH = select(_TOUCHED, literal(OverlapPolicy.SKIP.value).label("constant"))


@pytest.fixture
def worker_engine(settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, ProcessKind.WORKER, pool_size=1, autocommit=True)
    yield engine
    engine.dispose()


def test_values_go_in_and_come_back_as_connection_execute_gives_them(
    worker_engine, make_task, sessions
):
    task = make_task(params={"message": "before"}, overlap="queue_one")
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    with one_statement(worker_engine) as connection:
        values = {"task": task.id, "new_params": {"message": "é\n"}}
        row = statement.first(connection, values)
        again = tuple(connection.execute(_TOUCH, values).one())

    assert row == again
    task_id, overlap, params, created_at, last_success_at, constant = row  # type: ignore[misc]
    assert (task_id, overlap, params) == (task.id, OverlapPolicy.QUEUE_ONE, {"message": "é\n"})
    assert isinstance(overlap, OverlapPolicy)
    assert created_at.tzinfo is not None and created_at.utcoffset().total_seconds() == 0
    assert last_success_at is None
    assert constant == "skip"


def test_no_row_is_none(worker_engine):
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    with one_statement(worker_engine) as connection:
        assert statement.first(connection, {"task": 10**12, "new_params": {}}) is None


def test_it_is_prepared_on_the_server_and_seen_by_the_engines_listeners(worker_engine, make_task):
    task = make_task()
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    seen: list[str] = []

    def on_statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(worker_engine, "before_cursor_execute", on_statement)
    with one_statement(worker_engine) as connection:
        statement.first(connection, {"task": task.id, "new_params": {}})
        prepared = connection.scalar(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%touched%'")
        )
    event.remove(worker_engine, "before_cursor_execute", on_statement)

    assert prepared == 1
    assert seen[0] == statement.sql


def test_a_bad_value_is_sqlalchemys_data_error(worker_engine):
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    with one_statement(worker_engine) as connection, pytest.raises(DataError):
        statement.first(connection, {"task": 2**70, "new_params": {}})  # beyond BIGINT


def test_a_dropped_connection_is_invalidated_and_the_next_one_is_fresh(
    worker_engine, make_task, engine
):
    task = make_task()
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    with one_statement(worker_engine) as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with one_statement(worker_engine) as connection, pytest.raises(DBAPIError) as cut:
        statement.first(connection, {"task": task.id, "new_params": {}})
    assert cut.value.connection_invalidated

    with one_statement(worker_engine) as connection:
        assert statement.first(connection, {"task": task.id, "new_params": {}}) is not None


def test_a_bind_the_statement_lacks_is_refused_before_anything_is_sent(worker_engine):
    statement = PreparedStatement(_TOUCH, worker_engine.dialect)
    with one_statement(worker_engine) as connection, pytest.raises(KeyError):
        statement.first(connection, {"task": 1, "new_params": {}, "typo": 1})


def test_a_naive_datetime_is_refused_as_the_model_refuses_it(worker_engine):
    touched = (
        update(Execution)
        .where(Execution.id == -1)
        .values(finished_at=bindparam("when"))
        .returning(Execution.id)
        .cte("touched")
    )
    statement = PreparedStatement(select(touched), worker_engine.dialect)
    naive = datetime.now(UTC).replace(tzinfo=None)
    with one_statement(worker_engine) as connection, pytest.raises(ValueError, match="naive"):
        statement.first(connection, {"when": naive})
