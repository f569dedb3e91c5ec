"""The production shape: the Procfile's api, scheduler and worker on PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from taskbeat.db import make_engine
from tests.e2e import scenarios
from tests.e2e.harness import BIN, ROOT, Api, Service, free_port, wait_until
from tests.services import E2E_REDIS_DB, postgres_database, redis_database, unique_namespace
from tests.webhooks import Receiver, receiving

ADMIN_KEY = "e2e-admin-key-0123456789"
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def environment(tmp_path: Path, receiver: Receiver) -> Iterator[dict[str, str]]:
    with postgres_database(migrated=False) as database_url, redis_database(E2E_REDIS_DB) as url:
        yield {
            **{k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")},
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PORT": str(free_port()),
            "TASKBEAT_DATABASE_URL": database_url,
            "TASKBEAT_REDIS_URL": url,
            "TASKBEAT_ADMIN_KEY": ADMIN_KEY,
            "TASKBEAT_NAMESPACE": unique_namespace(),
            # Failure alerts go to a receiver on loopback, sent by the scheduler.
            "TASKBEAT_WEBHOOK_URL": receiver.url,
            "TASKBEAT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TASKBEAT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "TASKBEAT_ALERT_INTERVAL": "0.5",
        }


def test_procfile_processes_on_postgres_and_redis_run_retry_time_out_alert_and_stop(
    environment, tmp_path, receiver
):
    upgrade = Service("migrate", [str(BIN / "taskbeat"), "db", "upgrade"], environment, tmp_path)
    assert upgrade.wait(timeout=60) == 0, upgrade.log()

    services = [
        Service(name, ["bash", "-c", f"exec {command}"], environment, tmp_path)
        for name, command in procfile().items()
    ]
    try:
        base = f"http://127.0.0.1:{environment['PORT']}/api/v1"
        api = Api(base, ADMIN_KEY)
        wait_until(lambda: _healthy(api), 60, "the API to report healthy")
        scenarios.recurring_task_runs_every_second(api)
        scenarios.failing_task_backs_off_then_fails(api)
        scenarios.run_now_and_timeouts(api)
        notices = wait_until(lambda: _failed_notices(receiver), 30, "the scheduler's alerts")
        assert {"flaky", "slow"} <= set(notices)
        assert all(receiver.signed_correctly(call, WEBHOOK_SECRET) for call in receiver.calls)
        held = _connections(environment["TASKBEAT_DATABASE_URL"])
        # Procfile: a prefork worker of concurrency 2, gunicorn's 2 processes x 4 threads.
        assert held.get("taskbeat-worker", 0) <= 2 + 1, held
        assert held.get("taskbeat-scheduler", 0) <= 2, held
        assert held.get("taskbeat-api", 0) <= 2 * 4, held
    finally:
        codes = {service.name: service.stop(signal.SIGTERM) for service in services}
    assert codes == {"api": 0, "scheduler": 0, "worker": 0}, [s.log()[-3000:] for s in services]


def _failed_notices(receiver: Receiver) -> dict[str, dict] | None:
    """The failure notices received, by task; None until both failing tasks sent one."""
    bodies = [json.loads(call["body"]) for call in receiver.calls]
    found = {b["task"]["name"]: b for b in bodies if b["event"] == "failed"}
    return found if {"flaky", "slow"} <= set(found) else None


def _connections(database_url: str) -> dict[str, int]:
    """The connections each kind of taskbeat process holds to the database now."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "GROUP BY application_name"
                )
            )
            return {name: count for name, count in rows}
    finally:
        engine.dispose()


def _healthy(api: Api) -> bool:
    try:
        return bool(api.get("/health")["status"] == "ok")
    except (requests.ConnectionError, AssertionError):  # not up yet, or 503 while it connects
        return False
