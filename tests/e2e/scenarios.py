"""What a user does with a running taskbeat, checked the way they would see it."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from tests.e2e.harness import Api, wait_until


def executions(api: Api, task: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/tasks/{task}/executions?limit=100")["items"]
    return items


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def recurring_task_runs_every_second(api: Api) -> None:
    task = api.post(
        "/tasks",
        {"name": "heartbeat", "handler": "echo", "schedule": "every 1 seconds",
         "params": {"hello": "world"}, "timezone": "Europe/Paris"},
        expect=201,
    )  # fmt: skip
    assert task["status"] == "active"
    assert task["next_run_at"] is not None

    def succeeded() -> list[dict[str, Any]]:
        done = [e for e in executions(api, str(task["id"])) if e["status"] == "succeeded"]
        return done if len(done) >= 3 else []

    done = wait_until(succeeded, 30, "three succeeded runs of an every-second task")
    newest, older = done[0], done[1]
    assert at(newest["scheduled_for"]) > at(older["scheduled_for"])  # newest first
    for execution in done:
        assert execution["attempt"] == 1
        assert execution["trigger"] == "schedule"
        assert execution["result"]["params"] == {"hello": "world"}
        assert execution["duration"] >= 0
        assert at(execution["started_at"]) <= at(execution["finished_at"])
    spacing = {
        round((at(a["scheduled_for"]) - at(b["scheduled_for"])).total_seconds(), 3)
        for a, b in itertools.pairwise(done)
    }
    assert spacing == {1.0}
    everywhere = api.get("/executions?limit=100")["items"]
    assert {e["id"] for e in done} <= {e["id"] for e in everywhere}
    api.post("/tasks/heartbeat/actions/pause")


def failing_task_backs_off_then_fails(api: Api) -> None:
    api.post(
        "/tasks",
        {"name": "flaky", "handler": "fail-n-times", "schedule": "now",
         "params": {"failures": 99}, "max_retries": 2, "retry_delay": 1},
        expect=201,
    )  # fmt: skip

    def failed() -> dict[str, Any] | None:
        task: dict[str, Any] = api.get("/tasks/flaky")
        return task if task["status"] == "failed" else None

    task = wait_until(failed, 40, "the failing task to use up its retries")
    assert task["consecutive_failures"] == 1
    attempts = sorted(executions(api, "flaky"), key=lambda e: e["attempt"])
    assert [(e["attempt"], e["status"], e["trigger"]) for e in attempts] == [
        (1, "failed", "schedule"),
        (2, "failed", "retry"),
        (3, "failed", "retry"),
    ]
    assert len({e["scheduled_for"] for e in attempts}) == 1  # retries keep their slot
    assert all("planned failure" in e["error"]["message"] for e in attempts)
    # retry_delay * 2**(attempt-1): each retry is due 1 s, then 2 s, after the failure
    # before it, exactly, as recorded; on a busy machine its start may come later, so the
    # wall clock is only held to "not before it was due, and not forgotten".
    backoff = [
        (at(b["due_at"]) - at(a["finished_at"])).total_seconds()
        for a, b in itertools.pairwise(attempts)
    ]
    assert backoff == [1.0, 2.0], backoff
    for retry in attempts[1:]:
        waited = (at(retry["started_at"]) - at(retry["due_at"])).total_seconds()
        assert 0 <= waited < 10, (retry["id"], waited)
    detail = api.get(f"/executions/{attempts[0]['id']}")
    assert "Traceback" in detail["error"]["traceback"]
    assert any("planned failures" in line for line in detail["logs"])


def run_now_and_timeouts(api: Api) -> None:
    api.post(
        "/tasks",
        {"name": "slow", "handler": "sleep", "schedule": "@yearly",
         "params": {"seconds": 30}, "timeout": 1},
        expect=201,
    )  # fmt: skip
    run = api.post("/tasks/slow/actions/run", {}, expect=202)
    assert run["trigger"] == "manual"

    def timed_out() -> dict[str, Any] | None:
        found: dict[str, Any] = api.get(f"/executions/{run['id']}")
        return found if found["status"] == "timed_out" else None

    done = wait_until(timed_out, 30, "the 30 s sleep to hit its 1 s time limit")
    assert done["duration"] < 10
    assert api.get("/tasks/slow")["status"] == "failed"
