"""Settings come from TASKBEAT_* variables, once, and bad ones are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskbeat.db import masked, normalize_url
from taskbeat.errors import ConfigurationError
from taskbeat.settings import Settings


def test_settings_are_read_from_taskbeat_variables_only():
    settings = Settings.from_env(
        {
            "TASKBEAT_DATABASE_URL": "postgresql://u:p@db/x",
            "TASKBEAT_HANDLER_MODULES": "a.b, c ,",
            "TASKBEAT_SCHEDULER_MAX_SLEEP": "2.5",
            "PATH": "/bin",
        }
    )
    assert settings.database_url == "postgresql://u:p@db/x"
    assert settings.handler_modules == ("a.b", "c")
    assert settings.scheduler_max_sleep == 2.5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKBEAT_NO_SUCH_SETTING", "1"),
        ("TASKBEAT_SCHEDULER_MAX_SLEEP", "-1"),
        ("TASKBEAT_ADMIN_KEY", "short"),
        ("TASKBEAT_SCHEDULER_BATCH_SIZE", "many"),
    ],
)
def test_a_bad_variable_is_an_error_that_names_it(variable, value):
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


def test_settings_are_frozen():
    with pytest.raises(ValueError):
        Settings().database_url = "sqlite://"  # type: ignore[misc]


def test_postgres_urls_use_psycopg_3_and_passwords_are_masked():
    assert normalize_url("postgres://u:secret@h/db").drivername == "postgresql+psycopg"
    assert "secret" not in masked("postgresql://u:secret@h/db")


def test_lists_of_hosts_and_networks_are_comma_separated():
    settings = Settings.from_env(
        {
            "TASKBEAT_WEBHOOK_ALLOWED_HOSTS": "hooks.example.com, alerts.internal",
            "TASKBEAT_METRICS_ALLOW": "10.0.0.0/8,127.0.0.1",
            "TASKBEAT_LOG_FORMAT": "json",
        }
    )
    assert settings.webhook_allowed_hosts == ("hooks.example.com", "alerts.internal")
    assert settings.metrics_allow == ("10.0.0.0/8", "127.0.0.1")
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKBEAT_LOG_FORMAT", "xml"),
        ("TASKBEAT_WEBHOOK_SECRET", "short"),
        ("TASKBEAT_WEBHOOK_URL", "gopher://x"),
        ("TASKBEAT_HEALTH_FAILURE_RATE", "2"),
        ("TASKBEAT_METRICS_ALLOW", "10.0.0.0/8,not-a-network"),
    ],
)
def test_a_bad_monitoring_setting_is_refused_by_name(variable, value):
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


def test_every_setting_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"TASKBEAT_{name.upper()}" not in readme]
    assert missing == []


def test_a_fence_that_would_fire_after_a_run_may_be_retried_is_refused():
    assert Settings(lost_after=60).fence_seconds == 30
    with pytest.raises(ValueError, match="fence_after"):
        Settings(lost_after=60, fence_after=60)
    with pytest.raises(ValueError, match="fence_after"):
        Settings(heartbeat_interval=10, fence_after=15)
