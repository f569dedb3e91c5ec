"""The Procfile and compose.yaml name commands that exist (no Docker engine runs here,
so compose itself is checked for shape, and each command it runs is run with --help)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from api.wsgi import create_app_from_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_procfile_runs_the_three_processes():
    commands = procfile()
    assert set(commands) == {"api", "scheduler", "worker"}
    assert all(command.startswith(f"taskbeat {name}") for name, command in commands.items())


def test_compose_runs_every_part_and_migrates_before_the_rest_start():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "scheduler", "worker", "flower"} <= set(services)
    assert services["migrate"]["command"] == ["taskbeat", "db", "upgrade"]
    for name in ("api", "scheduler", "worker", "flower"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["api"]["command"][0] == "gunicorn"
    # gunicorn's own refusals (400, 414, 431) as problem+json, as `taskbeat api` has them
    assert "--worker-class=api.gunicorn_worker.ProblemWorker" in services["api"]["command"]
    assert services["worker"]["deploy"]["replicas"] >= 2


@pytest.mark.parametrize("service", ["migrate", "scheduler", "worker"])
def test_each_taskbeat_command_in_compose_exists(service):
    command = compose()["services"][service]["command"]
    assert command[0] == "taskbeat"
    result = subprocess.run(
        [str(BIN / "taskbeat"), *command[1:2], "--help"], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_flower_command_imports_the_worker_app(monkeypatch, tmp_path):
    command = compose()["services"]["flower"]["command"]
    assert command[:3] == ["celery", "-A", "workers.celery_app"]
    monkeypatch.setenv("TASKBEAT_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    result = subprocess.run(
        [str(BIN / "celery"), "-A", "workers.celery_app", "inspect", "--help"],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_gunicorn_app_factory_in_compose_builds_the_app(monkeypatch, tmp_path, engine):
    target = compose()["services"]["api"]["command"][-1]
    assert target == "api.wsgi:create_app_from_env()"
    monkeypatch.setenv("TASKBEAT_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("TASKBEAT_ADMIN_KEY", "compose-admin-key-12345")
    app = create_app_from_env()
    response = app.test_client().get(
        "/api/v1/handlers", headers={"Authorization": "Bearer compose-admin-key-12345"}
    )
    assert response.status_code == 200
