"""The schema and the queries that lean on PostgreSQL: the migration, the unique slot
key under concurrent writers, and row locks that let schedulers share the work."""

from __future__ import annotations

import threading
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from scheduler.dispatch import Dispatcher
from taskbeat import store
from taskbeat.db import make_engine
from taskbeat.migrate import downgrade, upgrade
from taskbeat.models import Base, Execution, Task
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.store.executions import NewExecution
from taskbeat.tasks.fields import TaskDefinition
from taskbeat.tasks.operations import create_task
from tests.conftest import FixedClock
from tests.listing_plans import SORT_STEP, page_queries, postgres_plan

# Alembic compares no index on an expression (the task list's orders); the EXPLAIN tests
# in tests/unit/test_listing_plans.py run on migrated databases and need them.
EXPRESSION_INDEXES_UNCOMPARED = pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping",
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def add_tasks(sessions, registry, count: int, schedule: str = "every 10 seconds") -> None:
    with sessions.begin() as session:
        for number in range(count):
            definition = TaskDefinition(name=f"t{number}", handler="echo", schedule=schedule)
            create_task(session, definition, registry, now=NOW, default_queue="q")


def slot_row(task_id: int, slot: datetime) -> NewExecution:
    return NewExecution(task_id, "t", Trigger.SCHEDULE, slot, slot, ExecutionStatus.SCHEDULED, slot)


@EXPRESSION_INDEXES_UNCOMPARED
def test_the_migration_builds_the_models_schema_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        downgrade(postgres_url, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(postgres_url)
        assert {"tasks", "executions", "api_keys"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_unique_key_refuses_a_second_row_for_a_slot(sessions, registry):
    add_tasks(sessions, registry, 1)
    with sessions.begin() as session:
        task_id = session.scalar(select(Task.id))
        session.add(Execution(**asdict(slot_row(task_id, NOW))))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(Execution(**asdict(slot_row(task_id, NOW))))


@pytest.mark.parametrize("count", [1, 3], ids=["one row", "three rows"])
@pytest.mark.parametrize("differing", [(), ("params", "status", "attempt", "test_mode")])
def test_a_batch_insert_writes_each_rows_values_whether_or_not_the_rows_share_them(
    sessions, registry, count, differing
):
    """store.sql.unnested: a column the rows share is one parameter, one they do not is an
    array; either way each row gets its own values."""
    add_tasks(sessions, registry, 1)
    with sessions() as session:
        task_id = session.scalar(select(Task.id))
    varied = {
        "params": lambda n: {"n": n} if n else None,
        "status": lambda n: [ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED][n % 2],
        "attempt": lambda n: n + 1,
        "test_mode": lambda n: n % 2 == 1,
    }
    rows = [
        replace(
            slot_row(task_id, NOW + timedelta(minutes=n)),
            **{name: varied[name](n) for name in differing},
        )
        for n in range(count)
    ]
    with sessions.begin() as session:
        ids = store.executions.insert_executions(session, rows)
    with sessions() as session:
        for row in rows:
            written = session.get(Execution, ids[row.key()])
            assert {name: getattr(written, name) for name in asdict(row)} == asdict(row)


def test_concurrent_inserts_of_one_slot_leave_exactly_one_row(sessions, registry):
    add_tasks(sessions, registry, 1)
    with sessions() as session:
        task_id = session.scalar(select(Task.id))
    barrier = threading.Barrier(8)
    inserted: list[int] = []

    def insert() -> None:
        barrier.wait()
        with sessions.begin() as session:
            inserted.extend(
                store.executions.insert_executions(session, [slot_row(task_id, NOW)]).values()
            )

    threads = [threading.Thread(target=insert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(inserted) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Execution)) == 1


def test_concurrent_schedulers_dispatch_every_slot_exactly_once(sessions, registry):
    add_tasks(sessions, registry, 400)
    settings = Settings(scheduler_batch_size=50)
    clock = FixedClock(NOW + timedelta(seconds=10))
    publishers = [RecordingPublisher() for _ in range(4)]
    dispatchers = [Dispatcher(settings, sessions, p, clock) for p in publishers]
    barrier = threading.Barrier(len(dispatchers))
    errors: list[BaseException] = []

    def run(dispatcher: Dispatcher) -> None:
        barrier.wait()
        try:
            while dispatcher.tick().more:
                pass
        except BaseException as exc:  # surfaced below; a thread cannot fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    published = [i for p in publishers for i in p.execution_ids]
    assert len(published) == 400
    assert len(set(published)) == 400
    assert sum(1 for p in publishers if p.messages) > 1, "the work was not shared"
    with sessions() as session:
        per_task = session.execute(
            select(Execution.task_id, func.count()).group_by(Execution.task_id)
        ).all()
    assert len(per_task) == 400
    assert {count for _, count in per_task} == {1}


def test_a_task_locked_by_one_scheduler_is_skipped_by_another(sessions, registry):
    add_tasks(sessions, registry, 2)
    clock = FixedClock(NOW + timedelta(seconds=10))
    publisher = RecordingPublisher()
    dispatcher = Dispatcher(Settings(), sessions, publisher, clock)
    with sessions.begin() as holder:
        locked = holder.scalars(select(Task).where(Task.name == "t0").with_for_update()).one()
        dispatcher.tick()
        with sessions() as session:
            dispatched = session.scalars(select(Execution.task_name)).all()
        assert dispatched == ["t1"]
        assert locked.name == "t0"
    dispatcher.tick()
    with sessions() as session:
        assert sorted(session.scalars(select(Execution.task_name)).all()) == ["t0", "t1"]


def test_every_listing_reads_its_order_from_an_index_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    try:
        for statement, parameters, few in page_queries(engine):
            plan = postgres_plan(engine, statement, parameters)
            if few:  # from the running executions' index, then a sort of a handful of rows
                assert "ix_executions_status" in plan, f"{statement}\n{plan}"
                continue
            assert not SORT_STEP.search(plan), f"{statement}\n{plan}"
            assert "Index" in plan, f"{statement}\n{plan}"
    finally:
        engine.dispose()
