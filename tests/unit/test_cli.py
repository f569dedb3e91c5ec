"""The `taskbeat` command as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskbeat.migrate import head_revision

BIN = Path(sys.executable).parent


def taskbeat(
    *args: str, database: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}
    if database is not None:
        environment["TASKBEAT_DATABASE_URL"] = f"sqlite:///{database}"
    environment.update(env)
    return subprocess.run(
        [str(BIN / "taskbeat"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_command():
    result = taskbeat("--help")
    assert result.returncode == 0
    for command in ("api", "scheduler", "worker", "dev", "db", "keys"):
        assert command in result.stdout


def test_db_upgrade_then_keys_create_prints_a_key_once(tmp_path):
    database = tmp_path / "cli.db"
    assert taskbeat("db", "upgrade", database=database).returncode == 0
    current = taskbeat("db", "current", database=database)
    assert f"current: {head_revision()}  head: {head_revision()}" in current.stdout

    created = taskbeat("keys", "create", "--role", "viewer", "--name", "grafana", database=database)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("tbk_")
    listed = taskbeat("keys", "list", database=database).stdout
    assert "viewer" in listed and "grafana" in listed
    assert key not in listed  # only the prefix is ever shown again

    assert taskbeat("keys", "revoke", "1", database=database).returncode == 0
    assert "revoked" in taskbeat("keys", "list", database=database).stdout


def test_a_bad_role_is_refused_with_a_message(tmp_path):
    result = taskbeat("keys", "create", "--role", "root", database=tmp_path / "x.db")
    assert result.returncode == 2
    assert "root" in result.stderr


def test_a_bad_setting_is_refused_by_name_before_anything_starts():
    result = taskbeat("db", "current", TASKBEAT_SCHEDULER_MAX_SLEEP="soon")
    assert result.returncode == 2
    assert "TASKBEAT_SCHEDULER_MAX_SLEEP" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["api", "scheduler", "worker"])
def test_the_processes_refuse_a_database_that_was_not_migrated(command, tmp_path):
    result = taskbeat(command, database=tmp_path / "fresh.db")
    assert result.returncode == 2
    assert "taskbeat db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_revoking_a_key_that_does_not_exist_fails(tmp_path):
    database = tmp_path / "k.db"
    taskbeat("db", "upgrade", database=database)
    result = taskbeat("keys", "revoke", "42", database=database)
    assert result.returncode == 2
    assert "no API key 42" in result.stderr
