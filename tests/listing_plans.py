"""Every listing's filter and order is served by an index: run each page query the API
makes, catch its SQL, and read the database's plan for it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from taskbeat import store
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.store.listings import TASK_SORTS, ExecutionFilter, TaskFilter
from taskbeat.tasks.state import TaskStatus

TASK_FILTERS = [
    TaskFilter(),
    TaskFilter(status=TaskStatus.PAUSED),
    TaskFilter(status=TaskStatus.RUNNING),
    TaskFilter(status=TaskStatus.ACTIVE, handler="echo"),
    TaskFilter(tag="nightly", search="rep"),
]
EXECUTION_FILTERS = [
    ExecutionFilter(task_id=task, status=status, trigger=trigger, before_id=cursor)
    for task, status, trigger, cursor in itertools.product(
        [None, 1], [None, ExecutionStatus.SUCCEEDED], [None, Trigger.MANUAL], [None, 1000]
    )
]


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def page_queries(engine: Engine) -> list[tuple[str, Any, bool]]:
    """The SQL of every listing the API serves, each filter with each order, and whether
    its matches are few by nature (running tasks: no more than the workers' slots), so
    that the database may start from them and sort them."""
    found: list[tuple[str, Any, bool]] = []
    with Session(engine) as session:
        for where in TASK_FILTERS:
            for sort in TASK_SORTS:
                for direction in ("", "-"):
                    with captured(engine) as statements:
                        store.listings.list_tasks(
                            session, where, sort=direction + sort, limit=50, offset=100
                        )
                    few = where.status is TaskStatus.RUNNING
                    found += [(sql, parameters, few) for sql, parameters in statements]
        with captured(engine) as statements:
            for execution_filter in EXECUTION_FILTERS:
                store.listings.list_executions(session, execution_filter, limit=50)
            store.audit.list_entries(session, before_id=None, limit=50)
            store.audit.list_entries(session, before_id=7, limit=50)
        found += [(sql, parameters, False) for sql, parameters in statements]
    return found


def sqlite_plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in rows)


def postgres_plan(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan with sorting and full scans priced out: a sort left in it means no index
    can give that order."""
    with engine.connect() as connection:
        connection.execute(text("SET enable_sort = off"))
        connection.execute(text("SET enable_seqscan = off"))
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in rows)


SORT_STEP = re.compile(r"TEMP B-TREE FOR ORDER BY|(^|->)\s*(Incremental )?Sort\b", re.M)
