"""What one run costs the database, counted on PostgreSQL: the budget of the hot path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from taskbeat.celery_app import make_celery
from taskbeat.db import ProcessKind, make_engine, one_statement
from taskbeat.status import ExecutionStatus
from tests.runs import history, reload, status_of
from workers.app import RuntimeHolder
from workers.execution import run_execution


@dataclass
class Traffic:
    statements: list[str] = field(default_factory=list)
    commits: int = 0
    checkouts: int = 0


@contextmanager
def counted(engine: Engine) -> Iterator[Traffic]:
    """Every statement, commit and pool checkout on `engine` while the block runs."""
    traffic = Traffic()

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        traffic.statements.append(statement)

    def on_commit(conn: Any) -> None:
        traffic.commits += 1

    def on_checkout(*args: Any) -> None:
        traffic.checkouts += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield traffic
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
        event.remove(engine.pool, "checkout", on_checkout)


@pytest.fixture
def worker_engine(settings) -> Iterator[Engine]:
    """The engine a worker process makes: autocommit, one connection."""
    engine = make_engine(settings.database_url, ProcessKind.WORKER, pool_size=1, autocommit=True)
    yield engine
    engine.dispose()


def test_a_successful_run_costs_two_statements_and_no_other_round_trip(
    settings, worker_engine, sessions, registry, make_task, run_now, worker_runtime
):
    engine = worker_engine
    runtime = worker_runtime(engine)
    task = make_task(handler="echo", max_retries=2)
    warm_up = run_now(task)  # the first run on a connection asks PostgreSQL its settings
    run_execution(runtime, warm_up.id, "w:1")
    execution = run_now(task)

    with counted(engine) as traffic:
        assert run_execution(runtime, execution.id, "w:1") is ExecutionStatus.SUCCEEDED

    # The claim (reading the task's fields with it) and the outcome (clearing the task's
    # failure streak with it), each its own autocommit transaction: no BEGIN, no COMMIT,
    # no pre-ping, no re-read.
    assert len(traffic.statements) == 2, traffic.statements
    claim, outcome = traffic.statements
    assert claim.lstrip().startswith("WITH claimed AS")
    assert outcome.lstrip().startswith("WITH finished AS")
    assert traffic.commits <= 2
    assert traffic.checkouts == 2
    assert [e.status for e in history(sessions, task)][-1] is ExecutionStatus.SUCCEEDED
    assert status_of(sessions, task.id).value == "active"


def test_a_run_that_reads_its_last_execution_pays_for_it_and_only_then(
    settings, worker_engine, registry, make_task, run_now, worker_runtime
):
    engine = worker_engine
    runtime = worker_runtime(engine)
    task = make_task(handler="needs-count", params={"count": 1})
    run_execution(runtime, run_now(task).id, "w:1")
    execution = run_now(task)
    with counted(engine) as traffic:
        run_execution(runtime, execution.id, "w:1")
    assert len(traffic.statements) == 3  # claim, the last execution (asked for), outcome


def test_a_new_worker_process_warms_up_its_hot_path_without_changing_anything(
    settings, registry, make_task, run_now, sessions
):
    """What a pool process does when it starts (`RuntimeHolder.warm_up`): its connection
    open and the claim and the success prepared on the server, no row touched."""
    task = make_task(handler="echo")
    run_now(task)

    def rows() -> list[tuple[object, ...]]:
        executions = [(e.id, e.status, e.worker, e.started_at) for e in history(sessions, task)]
        fields = reload(sessions, task).__dict__
        return [*executions, tuple(sorted((k, v) for k, v in fields.items() if k[0] != "_"))]

    before = rows()
    holder = RuntimeHolder(settings, registry, make_celery(settings))
    try:
        holder.warm_up()
        warming = next(t for t in threading.enumerate() if t.name == "warm-up")
        warming.join(timeout=30)
        with one_statement(holder.get().engine) as connection:
            prepared = connection.scalars(text("SELECT statement FROM pg_prepared_statements"))
            starts = sorted(statement.lstrip()[:15] for statement in prepared)
        assert starts == ["WITH claimed AS", "WITH finished A"]
        assert rows() == before
    finally:
        holder.close()
