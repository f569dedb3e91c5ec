"""`taskbeat dev`, as the README starts it: one command, SQLite and an embedded Redis."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

from tests.e2e import scenarios
from tests.e2e.harness import BIN, Api, Service, banner, dev_env, free_port, port_open


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


def test_taskbeat_dev_runs_tasks_end_to_end_and_stops_cleanly_on_ctrl_c(dev):
    service, port = dev
    url, key, redis_port = banner(service)
    assert url == f"http://127.0.0.1:{port}/api/v1"
    assert f"Dashboard:  http://127.0.0.1:{port}/" in service.log()
    sign_in = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert sign_in.status_code == 200 and 'name="key"' in sign_in.text  # the sign-in form
    api = Api(url, key)
    assert api.get("/health")["status"] == "ok"  # the banner waits for scheduler and worker

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
