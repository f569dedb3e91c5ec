"""Races that only a real PostgreSQL shows: concurrent API writes, a delete against a
running worker, and outcomes the database refuses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select, text

from api.app import create_app
from taskbeat import store
from taskbeat.apikeys import create_key
from taskbeat.clock import utcnow
from taskbeat.executions.lifecycle import Outcome
from taskbeat.models import Execution
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.status import ApiRole, ExecutionStatus
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskDefinition
from tests.runs import claim, claimed, settle
from workers.execution import run_execution


@pytest.fixture
def app(settings, registry) -> Iterator[Flask]:
    app = create_app(settings, registry=registry, publisher=RecordingPublisher())
    yield app
    app.extensions["taskbeat"].engine.dispose()


@pytest.fixture
def headers(sessions) -> dict[str, str]:
    with sessions.begin() as session:
        _, key = create_key(session, name="it", role=ApiRole.ADMIN, now=utcnow())
    return {"Authorization": f"Bearer {key}"}


def together(actions: list[Callable[[], object]]) -> list[object]:
    """Run each action in its own thread, released at the same moment; their results,
    in order. An exception in any of them fails the test."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except BaseException as exc:  # reported below: a thread cannot fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_racing_creates_of_one_name_give_one_201_and_409s(app, headers):
    body = {"name": "same", "handler": "echo", "schedule": "@daily"}

    def create() -> object:
        return app.test_client().post("/api/v1/tasks", json=body, headers=headers).status_code

    assert sorted(together([create] * 16)) == [201] + [409] * 15  # type: ignore[type-var]


@pytest.mark.parametrize("round_number", range(10))
def test_deleting_a_task_while_workers_claim_and_finish_its_runs_never_deadlocks(
    app, headers, sessions, registry, round_number
):
    name, now = f"busy{round_number}", utcnow()
    with sessions.begin() as session:
        definition = TaskDefinition(name=name, handler="echo", schedule="@daily")
        operations.create_task(session, definition, registry, now=now, default_queue="q")
        running, queued, waiting = (
            operations.create_manual_run(
                session, name, RunRequest(), registry, now=now, lease_until=now
            )[0].id
            for _ in range(3)
        )
    run = claimed(sessions, running, now)

    def finish() -> object:
        return settle(sessions, run, Outcome(ExecutionStatus.SUCCEEDED), now)

    def claim_queued() -> object:
        return claim(sessions, queued, now)

    def delete() -> object:
        return app.test_client().delete(f"/api/v1/tasks/{name}", headers=headers).status_code

    assert together([finish, claim_queued, delete])[2] == 204
    with sessions() as session:
        status = {e.id: e.status for e in session.scalars(select(Execution))}
    assert status[running] is ExecutionStatus.SUCCEEDED
    assert status[waiting] is ExecutionStatus.CANCELLED
    assert status[queued] in (ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED)


def test_an_outcome_the_database_refuses_is_recorded_without_its_payload(
    settings, engine, sessions, registry, worker_runtime
):
    """A trigger stands in for any refusal we have not thought of: the run must still be
    settled, not left `running` to be re-run as lost."""
    with sessions.begin() as session:
        session.execute(
            text(
                """
                CREATE FUNCTION refuse_marker() RETURNS trigger AS $$
                BEGIN
                    IF NEW.result::text LIKE '%refuse-me%' THEN
                        RAISE EXCEPTION 'refused' USING ERRCODE = '22023';
                    END IF;
                    RETURN NEW;
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER refuse BEFORE UPDATE ON executions
                    FOR EACH ROW EXECUTE FUNCTION refuse_marker();
                """
            )
        )
    now = utcnow()
    with sessions.begin() as session:
        definition = TaskDefinition(
            name="refused", handler="echo", schedule="@daily", params={"m": "refuse-me"}
        )
        operations.create_task(session, definition, registry, now=now, default_queue="q")
        execution, _ = operations.create_manual_run(
            session, "refused", RunRequest(), registry, now=now, lease_until=now
        )
    runtime = worker_runtime(engine)
    assert run_execution(runtime, execution.id, "w") is ExecutionStatus.SUCCEEDED
    with sessions() as session:
        stored = store.executions.get_execution(session, execution.id)
    assert stored.result is None
    assert stored.error_type == "OutcomeNotStored"


def test_odd_handler_values_are_stored_on_postgresql(
    settings, engine, sessions, registry, worker_runtime
):
    now = utcnow()
    runtime = worker_runtime(engine)
    with sessions.begin() as session:
        for name, params in (("raises", {}), ("returns", {"return": True})):
            definition = TaskDefinition(
                name=name, handler="odd-values", schedule="@daily", params=params
            )
            operations.create_task(session, definition, registry, now=now, default_queue="q")
    for name in ("raises", "returns"):
        with sessions.begin() as session:
            execution, _ = operations.create_manual_run(
                session, name, RunRequest(), registry, now=now, lease_until=now
            )
        run_execution(runtime, execution.id, "w")
        with sessions() as session:
            stored = store.executions.get_execution(session, execution.id)
        assert stored.status in (ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED)
        assert stored.error_type != "OutcomeNotStored"
