"""Database faults a process must ride out, on a real PostgreSQL: a connection cut while
an outcome is written (F1 in issue 7), and sessions bounded so that a frozen process
holds no lock for long (F3)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text, update
from sqlalchemy.exc import DBAPIError

from scheduler.dispatch import Dispatcher
from taskbeat import store
from taskbeat.clock import utcnow
from taskbeat.db import ProcessKind, SessionLimits, make_engine, make_session_factory
from taskbeat.models import Execution
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.status import ExecutionStatus
from tests.runs import history
from workers.execution import DatabaseUnavailable, run_execution

QUICK = SessionLimits(lock=0.5, statement=60.0, idle_in_transaction=1.0)


@pytest.fixture
def worker_engine(settings) -> Iterator[Engine]:
    """The engine a worker process makes: autocommit, bounded sessions."""
    engine = make_engine(
        settings.database_url, ProcessKind.WORKER, pool_size=1, autocommit=True, limits=QUICK
    )
    yield engine
    engine.dispose()


@pytest.fixture
def scheduler_engine(settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, ProcessKind.SCHEDULER, limits=QUICK)
    yield engine
    engine.dispose()


def test_server_sessions_open_with_their_bounds(settings, worker_engine):
    defaults = SessionLimits.from_settings(settings)
    engine = make_engine(settings.database_url, ProcessKind.API, limits=defaults)
    try:
        for bound_engine, expected in (
            (engine, ("5s", "1min", "10s")),
            (worker_engine, ("500ms", "1min", "1s")),
        ):
            with bound_engine.connect() as connection:
                shown = tuple(
                    connection.exec_driver_sql(f"SHOW {name}").scalar_one()
                    for name in (
                        "lock_timeout",
                        "statement_timeout",
                        "idle_in_transaction_session_timeout",
                    )
                )
            assert shown == expected
    finally:
        engine.dispose()


def test_an_outcome_is_recorded_after_the_workers_connection_is_cut(
    settings, worker_engine, worker_runtime, sessions, make_task, run_now
):
    runtime = worker_runtime(worker_engine)
    task = make_task(
        handler="cut-worker-connections", params={"database_url": settings.database_url}
    )
    execution = run_now(task)

    # The handler ends the worker's own session: the outcome write finds it dead.
    assert run_execution(runtime, execution.id, "w:1") is ExecutionStatus.SUCCEEDED

    (recorded,) = history(sessions, task)
    assert recorded.status is ExecutionStatus.SUCCEEDED
    assert recorded.result == 1  # one session was cut: the worker's


def test_a_frozen_schedulers_transaction_is_ended_and_another_dispatches_its_task(
    settings, scheduler_engine, sessions, make_task, clock
):
    make_task(name="held")
    later = clock.advance(120)
    frozen = scheduler_engine.connect()
    frozen.begin()
    # The frozen scheduler locked the due task, as its dispatch does, and stopped.
    assert [t.name for t in store.tasks.due_tasks(frozen, later, 10)] == ["held"]
    other = Dispatcher(
        settings, make_session_factory(scheduler_engine), RecordingPublisher(), clock
    )
    try:
        assert other.tick().published == 0  # skipped, locked
        time.sleep(QUICK.idle_in_transaction + 0.5)
        assert other.tick().published == 1  # the server ended the frozen transaction
        # The frozen scheduler learns it on waking, and its pool drops the connection.
        with pytest.raises(DBAPIError) as woke:
            frozen.execute(text("SELECT 1"))
        assert woke.value.connection_invalidated
    finally:
        frozen.invalidate()
        frozen.close()


def test_a_claim_meeting_a_held_lock_gives_up_and_hands_the_message_back(
    worker_engine, worker_runtime, scheduler_engine, make_task, run_now
):
    runtime = worker_runtime(worker_engine)
    execution = run_now(make_task())
    with scheduler_engine.connect() as holder:
        holder.begin()
        holder.execute(
            update(Execution).where(Execution.id == execution.id).values(enqueued_at=utcnow())
        )
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            run_execution(runtime, execution.id, "w:1")
        waited = time.monotonic() - started
        holder.rollback()
    assert waited < QUICK.lock + 2.0
    # Once the lock is gone, the message handed back runs.
    assert run_execution(runtime, execution.id, "w:1") is ExecutionStatus.SUCCEEDED


def test_session_limits_are_milliseconds_in_libpq_options():
    assert SessionLimits(5, 60, 0.25, connect=3).options() == (
        "-c lock_timeout=5000 -c statement_timeout=60000 -c idle_in_transaction_session_timeout=250"
    )
