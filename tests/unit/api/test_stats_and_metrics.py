"""/api/v1/stats and /metrics, their figures checked against the rows in the database."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from api.app import create_app
from api.services import EXTENSION
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus
from tests.conftest import START
from tests.unit.api.conftest import add_execution, error_fields, load_task, new_task

OUTCOMES = [
    ("report", ExecutionStatus.SUCCEEDED, 1.0),
    ("report", ExecutionStatus.SUCCEEDED, 3.0),
    ("report", ExecutionStatus.FAILED, 2.0),
    ("backup", ExecutionStatus.TIMED_OUT, 30.0),
    ("backup", ExecutionStatus.SKIPPED, None),
]
METRICS_TOKEN = "scrape-token-0123456789"


@pytest.fixture
def history(api, sessions):
    """Two tasks, five runs that finished within the last hour, one a day ago."""
    tasks = {
        name: load_task(sessions, new_task(api, name=name)["id"]) for name in ("report", "backup")
    }
    for minute, (name, status, duration) in enumerate(OUTCOMES):
        end = START - timedelta(minutes=10 + minute)
        add_execution(
            sessions, tasks[name], end - timedelta(seconds=5), status=status,
            started_at=end - timedelta(seconds=duration or 0), finished_at=end, duration=duration,
        )  # fmt: skip
    old = START - timedelta(hours=25)
    add_execution(sessions, tasks["report"], old, finished_at=old, started_at=old, duration=9.0)
    return tasks


def scrape(client, **headers) -> dict[str, list]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(response.get_data(as_text=True))
    }


def test_stats_count_each_status_with_rates_and_run_times_overall_and_per_task(api, history):
    body = api.get("/stats?window=3600").get_json()
    assert body["window_seconds"] == 3600
    overall = body["executions"]
    assert overall["by_status"]["succeeded"] == 2
    assert overall["by_status"]["failed"] == 1
    assert overall["by_status"]["timed_out"] == 1
    assert overall["by_status"]["skipped"] == 1
    assert overall["success_rate"] == pytest.approx(2 / 4)
    assert overall["mean_duration"] == pytest.approx((1 + 3 + 2 + 30) / 4)
    assert overall["p95_duration"] == pytest.approx(3 + 0.85 * 27)  # over [1, 2, 3, 30]
    per_task = {item["task_name"]: item for item in body["per_task"]}
    assert per_task["report"]["success_rate"] == pytest.approx(2 / 3)
    assert per_task["report"]["p95_duration"] == pytest.approx(2.9)
    assert per_task["backup"]["by_status"]["timed_out"] == 1
    assert body["tasks"]["active"] == 2
    day = api.get("/stats?window=172800").get_json()["executions"]["by_status"]
    assert day["succeeded"] == 3  # the run a day ago is inside two days


def test_stats_for_one_task_and_bad_queries(api, history):
    body = api.get("/stats?window=3600&task=backup").get_json()
    assert [item["task_name"] for item in body["per_task"]] == ["backup"]
    assert "tasks" not in body
    assert error_fields(api.get("/stats?window=5")) == ["window"]
    assert error_fields(api.get("/stats?window=soon")) == ["window"]
    assert error_fields(api.get("/stats?bogus=1")) == ["bogus"]
    assert api.get("/stats?task=missing").status_code == 404


def test_stats_need_a_key(anonymous):
    assert anonymous.get("/stats").status_code == 401


def test_metrics_match_the_database(api, client, admin_key, history, sessions):
    families = scrape(client, Authorization=f"Bearer {admin_key}")
    finished = {
        (s.labels["task"], s.labels["status"]): s.value
        for s in families["taskbeat_executions_finished"]
    }
    since = START - timedelta(hours=1)
    with sessions() as session:
        expected = {
            (name, status.value): count
            for name, status, count in session.execute(
                select(Execution.task_name, Execution.status, func.count())
                .where(Execution.finished_at >= since)
                .group_by(Execution.task_name, Execution.status)
            )
        }
    assert finished == expected
    durations = {
        s.labels.get("le"): s.value
        for s in families["taskbeat_execution_duration_seconds"]
        if s.name.endswith("_bucket")
    }
    assert durations["1.0"] == 1 and durations["5.0"] == 3 and durations["+Inf"] == 4
    # The text format carries a gauge histogram's sum as a gauge of its own.
    assert families["taskbeat_execution_duration_seconds_gsum"][0].value == pytest.approx(36.0)
    tasks = {s.labels["status"]: s.value for s in families["taskbeat_tasks"]}
    assert tasks["active"] == 2
    last = {
        s.labels["task"]: s.value for s in families["taskbeat_task_last_success_timestamp_seconds"]
    }
    assert last == {"report": 0.0, "backup": 0.0}  # rows written directly: no success recorded
    assert families["taskbeat_redis_up"][0].value == 0  # the unit settings point Redis nowhere


def test_metrics_refuse_a_scrape_without_token_key_or_allowed_address(client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.fixture
def guarded_app(settings, engine, registry, publisher, clock) -> Flask:
    guarded = settings.model_copy(
        update={"metrics_token": METRICS_TOKEN, "metrics_allow": ("10.1.0.0/16",)}
    )
    app = create_app(guarded, registry=registry, publisher=publisher, clock=clock)
    yield app
    app.extensions[EXTENSION].engine.dispose()


def test_metrics_answer_the_token_or_an_allowed_address(guarded_app):
    client = guarded_app.test_client()
    scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.2.0.1"}).status_code == 401


def test_health_is_down_with_redis_away_and_reports_the_failure_rate(anonymous, history):
    started = time.monotonic()
    response = anonymous.get("/health")
    assert time.monotonic() - started < 3  # a probe is not held up by retries to a dead Redis
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down"
    rate = body["components"]["failure_rate"]
    # Over 24 h: 2 succeeded, 2 failed (failed, timed out); the skip does not count.
    assert (rate["failed"], rate["finished"], rate["rate"]) == (2, 4, 0.5)
    assert rate["status"] == "ok"  # 0.5 is not above the 0.5 threshold
