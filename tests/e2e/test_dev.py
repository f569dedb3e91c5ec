"""`taskbeat dev`, as the README starts it: one command, SQLite and an embedded Redis."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.e2e import scenarios
from tests.e2e.harness import BIN, Api, Service, free_port, port_open, wait_until


def dev_env() -> dict[str, str]:
    """The environment of a fresh shell: no TASKBEAT_* settings at all."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}


@pytest.fixture
def dev(tmp_path: Path):
    port = free_port()
    service = Service(
        "dev",
        [str(BIN / "taskbeat"), "dev", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        dev_env(),
        tmp_path,
    )
    yield service, port
    if service.process.poll() is None:
        service.stop(signal.SIGKILL)


def banner(service: Service) -> tuple[str, str, int]:
    """The API URL, admin key and Redis port that `taskbeat dev` printed."""

    def printed() -> re.Match[str] | None:
        return re.search(
            r"API:\s+(\S+)\n\s+Admin key:\s+(\S+)\n.*\n\s+Redis:\s+redis://127\.0\.0\.1:(\d+)/0",
            service.log(),
        )

    match = wait_until(printed, 60, "taskbeat dev to print its banner")
    return match.group(1), match.group(2), int(match.group(3))


def test_taskbeat_dev_runs_tasks_end_to_end_and_stops_cleanly_on_ctrl_c(dev):
    service, port = dev
    url, key, redis_port = banner(service)
    assert url == f"http://127.0.0.1:{port}/api/v1"
    api = Api(url, key)
    assert api.get("/health")["status"] == "ok"

    scenarios.recurring_task_runs_every_second(api)
    scenarios.failing_task_backs_off_then_fails(api)

    assert service.stop(signal.SIGINT) == 0
    assert "taskbeat dev: stopping" in service.log()
    assert not port_open(port), "the API still answers"
    assert not port_open(redis_port), "the embedded Redis is still running"


def test_taskbeat_dev_uses_the_admin_key_it_is_given(tmp_path: Path):
    port = free_port()
    key = "my-own-admin-key-1234"
    env = {**dev_env(), "TASKBEAT_ADMIN_KEY": key}
    argv = [str(BIN / "taskbeat"), "dev", "--port", str(port), "--data-dir", str(tmp_path)]
    service = Service("dev-key", argv, env, tmp_path)
    try:
        url, printed_key, _ = banner(service)
        assert printed_key == key
        assert Api(url, key).get("/handlers")["items"]
    finally:
        assert service.stop(signal.SIGTERM) == 0
