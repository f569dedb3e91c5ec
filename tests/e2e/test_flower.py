"""Flower still works beside taskbeat: it turns a real worker's task events on and sees a
taskbeat run from them."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory
from taskbeat.outbox.publisher import RedisPublisher
from taskbeat.outbox.relay import publish_leased, run_message
from taskbeat.settings import Settings
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskDefinition
from tests.e2e.harness import BIN, Service, free_port, wait_until
from tests.services import E2E_REDIS_DB, postgres_database, redis_database, unique_namespace


@pytest.fixture
def environment(tmp_path: Path):
    with postgres_database() as database_url, redis_database(E2E_REDIS_DB) as redis_url:
        yield {
            **{k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")},
            "TASKBEAT_DATABASE_URL": database_url,
            "TASKBEAT_REDIS_URL": redis_url,
            "TASKBEAT_NAMESPACE": unique_namespace(),
            "FLOWER_UNAUTHENTICATED_API": "true",  # Flower 2 keeps its API shut otherwise
        }


def test_flower_shows_a_taskbeat_run_from_a_live_worker(environment, registry, tmp_path):
    port = free_port()
    flower = Service(
        "flower",
        [str(BIN / "celery"), "-A", "workers.celery_app", "flower", f"--port={port}",
         "--address=127.0.0.1"],
        environment,
        tmp_path,
    )  # fmt: skip
    worker = Service(
        "worker", [str(BIN / "taskbeat"), "worker", "--concurrency=1"], environment, tmp_path
    )
    settings = Settings.from_env(environment)
    engine = make_engine(settings.database_url)
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    try:
        api = f"http://127.0.0.1:{port}/api"
        wait_until(lambda: _workers(api), 60, "Flower to see the worker")
        sessions = make_session_factory(engine)
        runs = _TaskRuns(settings, sessions, publisher, registry)

        # Workers send no task events until Flower turns them on (every 5 s, as it
        # starts): run the task now and then until Flower shows a run.
        def seen() -> dict | None:
            execution_ids = runs.run_now_and_then(every=2.0)
            tasks = requests.get(f"{api}/tasks", timeout=5).json()
            for task in tasks.values():
                if task["name"] == "taskbeat.run_execution" and task["args"] in execution_ids:
                    return task if task["state"] == "SUCCESS" else None
            return None

        task = wait_until(seen, 60, "Flower to show the run as a success")
        assert task["worker"] in _workers(api)
        assert task["result"] == "'succeeded'"
    finally:
        publisher.close()
        engine.dispose()
        worker.stop()
        flower.stop()


def _workers(api: str) -> list[str]:
    try:
        return list(requests.get(f"{api}/workers?refresh=1", timeout=10).json())
    except (requests.RequestException, ValueError):
        return []


class _TaskRuns:
    """Manual runs of one task, published as run-now does."""

    def __init__(self, settings, sessions, publisher, registry) -> None:
        self._settings, self._sessions = settings, sessions
        self._publisher, self._registry = publisher, registry
        self._args: list[str] = []
        self._last = float("-inf")
        with sessions.begin() as session:
            definition = TaskDefinition(name="seen-by-flower", handler="echo", schedule="@yearly")
            operations.create_task(
                session, definition, registry, now=utcnow(), default_queue="taskbeat"
            )

    def run_now_and_then(self, every: float) -> list[str]:
        """A new run if the last is `every` seconds old; the args of every run so far."""
        if time.monotonic() - self._last >= every:
            self._last = time.monotonic()
            self._args.append(f"[{self._run_now()}]")
        return self._args

    def _run_now(self) -> int:
        now = utcnow()
        with self._sessions.begin() as session:
            execution, task = operations.create_manual_run(
                session, "seen-by-flower", RunRequest(), self._registry, now=now,
                lease_until=now + timedelta(seconds=30),
            )  # fmt: skip
            message = run_message(execution.id, task)
        sent = publish_leased(self._sessions, self._publisher, [message], utcnow, self._settings)
        assert sent == [execution.id]
        return execution.id
