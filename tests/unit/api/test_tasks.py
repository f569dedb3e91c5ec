"""/api/v1/tasks: create, read, list, update, delete, actions and the fire-time preview."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from scheduler.dispatch import Dispatcher
from taskbeat.executions.lifecycle import ErrorInfo, Outcome
from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.tasks.state import TaskState
from tests.conftest import START
from tests.runs import claimed, settle
from tests.unit.api.conftest import (
    add_execution,
    assert_problem,
    count_rows,
    error_fields,
    load_execution,
    load_task,
    new_task,
)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def set_state(sessions, task_id: int, **values: Any) -> None:
    """Put a task in a state only the scheduler and workers reach (failed, say)."""
    with sessions.begin() as session:
        task = session.get(Task, task_id)
        for name, value in values.items():
            setattr(task, name, value)


# --- create -------------------------------------------------------------------------


def test_creating_a_task_returns_201_with_id_status_next_run_location_and_etag(api):
    response = api.post("/tasks", json={"name": "report", "handler": "echo", "schedule": "@hourly"})
    assert response.status_code == 201
    body = response.get_json()
    assert isinstance(body["id"], int)
    assert body["name"] == "report"
    assert body["status"] == "active"
    assert body["next_run_at"] == (START + timedelta(hours=1)).isoformat()
    assert body["version"] == 1
    assert response.headers["Location"].endswith(f"/api/v1/tasks/{body['id']}")
    assert response.headers["ETag"] == '"1"'


def test_creating_a_task_wakes_the_scheduler(api, publisher):
    new_task(api)
    assert publisher.wakeups == 1
    assert publisher.messages == []


def test_a_created_task_is_found_at_its_location(api):
    response = api.post(
        "/tasks", json={"name": "report", "handler": "echo", "schedule": "every 5 minutes"}
    )
    location = response.headers["Location"].removeprefix("http://localhost")
    found = api.client.get(location, headers={"Authorization": f"Bearer {api.key}"})
    assert found.status_code == 200
    assert found.get_json() == response.get_json()


def test_creating_a_task_applies_the_defaults(api):
    body = new_task(api)
    assert body["timezone"] == "UTC"
    assert body["queue"] == "taskbeat"
    assert body["max_retries"] == 0
    assert body["tags"] == []
    assert body["params"] == {}
    assert body["recurring"] is True


def test_creating_a_task_whose_name_exists_is_a_409_and_writes_nothing(api, publisher, sessions):
    new_task(api, name="report")
    response = api.post("/tasks", json={"name": "report", "handler": "echo", "schedule": "@daily"})
    body = assert_problem(response, 409)
    assert "report" in body["detail"]
    assert count_rows(sessions, Task) == 1
    assert publisher.wakeups == 1


INVALID_DEFINITIONS = {
    "bad schedule": ({"schedule": "every blue moon"}, "schedule"),
    "bad cron field": ({"schedule": "61 * * * *"}, "schedule"),
    "unknown timezone": ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    "unknown handler": ({"handler": "no-such-handler"}, "handler"),
    "params out of range": ({"handler": "needs-count", "params": {"count": 99}}, "params.count"),
    "params missing": ({"handler": "needs-count", "params": {}}, "params.count"),
    "unknown field": ({"colour": "blue"}, "colour"),
    "all-digit name": ({"name": "12345"}, "name"),
    "name with spaces": ({"name": "nightly report"}, "name"),
    "negative max_retries": ({"max_retries": -1}, "max_retries"),
    "end before start": (
        {"start_at": "2026-12-02T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"},
        "end_at",
    ),
    "end equal to start": (
        {"start_at": "2026-12-01T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"},
        "end_at",
    ),
    "bad tag": ({"tags": ["has space"]}, "tags.0"),
    "params not an object": ({"params": [1, 2]}, "params"),
}


@pytest.mark.parametrize(
    ("fields", "field"), INVALID_DEFINITIONS.values(), ids=INVALID_DEFINITIONS.keys()
)
def test_an_invalid_definition_is_a_422_naming_the_field_and_writes_nothing(
    api, publisher, sessions, fields, field
):
    body = {"name": "report", "handler": "echo", "schedule": "every 60 seconds", **fields}
    response = api.post("/tasks", json=body)
    assert field in error_fields(response)
    assert field in response.get_json()["detail"]
    assert count_rows(sessions, Task) == 0
    assert publisher.wakeups == 0


@pytest.mark.parametrize("missing", ["name", "handler", "schedule"])
def test_a_definition_without_a_required_field_is_a_422_naming_it(api, sessions, missing):
    body = {"name": "report", "handler": "echo", "schedule": "every 60 seconds"}
    del body[missing]
    assert error_fields(api.post("/tasks", json=body)) == [missing]
    assert count_rows(sessions, Task) == 0


# --- read ---------------------------------------------------------------------------


def test_a_task_is_found_by_id_and_by_name(api):
    created = new_task(api, name="report")
    by_id = api.get(f"/tasks/{created['id']}")
    by_name = api.get("/tasks/report")
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.get_json() == by_name.get_json() == created
    assert by_id.headers["ETag"] == '"1"'


@pytest.mark.parametrize("ref", ["999", "no-such-task"])
def test_an_unknown_task_is_a_404_problem(api, ref):
    body = assert_problem(api.get(f"/tasks/{ref}"), 404)
    assert ref in body["detail"]


# --- list ---------------------------------------------------------------------------


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["name"] for item in response.get_json()["items"]]


def test_the_list_pages_with_items_total_limit_and_offset(api):
    for name in ("charlie", "alpha", "delta", "bravo"):
        new_task(api, name=name)
    response = api.get("/tasks?limit=2&offset=1")
    body = response.get_json()
    assert body["total"] == 4
    assert body["limit"] == 2
    assert body["offset"] == 1
    assert names(response) == ["bravo", "charlie"]


def test_the_list_defaults_to_50_from_the_start(api):
    new_task(api)
    body = api.get("/tasks").get_json()
    assert (body["limit"], body["offset"], body["total"]) == (50, 0, 1)


def test_an_offset_past_the_end_is_an_empty_page_with_the_total(api):
    new_task(api)
    body = api.get("/tasks?offset=10").get_json()
    assert body["items"] == []
    assert body["total"] == 1


def test_the_list_filters_by_status_including_paused(api, sessions):
    new_task(api, name="running-along")
    paused = new_task(api, name="on-hold")
    broken = new_task(api, name="broken")
    assert api.post(f"/tasks/{paused['id']}/actions/pause").status_code == 200
    set_state(sessions, broken["id"], state=TaskState.FAILED)

    assert names(api.get("/tasks?status=active")) == ["running-along"]
    assert names(api.get("/tasks?status=paused")) == ["on-hold"]
    assert names(api.get("/tasks?status=failed")) == ["broken"]
    assert api.get("/tasks?status=paused").get_json()["total"] == 1


def test_a_paused_failed_task_is_listed_as_paused_only(api, sessions):
    task = new_task(api, name="broken")
    set_state(sessions, task["id"], state=TaskState.FAILED, enabled=False)
    assert names(api.get("/tasks?status=paused")) == ["broken"]
    assert names(api.get("/tasks?status=failed")) == []


def test_the_list_filters_by_handler(api):
    new_task(api, name="echoes", handler="echo")
    new_task(api, name="counts", handler="needs-count", params={"count": 2})
    assert names(api.get("/tasks?handler=needs-count")) == ["counts"]


def test_the_list_filters_by_a_whole_tag(api):
    new_task(api, name="nightly-job", tags=["nightly", "ops"])
    new_task(api, name="night-job", tags=["night"])
    new_task(api, name="untagged")
    assert names(api.get("/tasks?tag=nightly")) == ["nightly-job"]
    assert names(api.get("/tasks?tag=night")) == ["night-job"]
    assert names(api.get("/tasks?tag=ops")) == ["nightly-job"]


def test_q_matches_a_part_of_the_name_in_any_case_taking_wildcards_literally(api):
    new_task(api, name="Daily_Report")
    new_task(api, name="dailyXreport")
    new_task(api, name="cleanup")
    assert names(api.get("/tasks?q=report")) == ["Daily_Report", "dailyXreport"]
    assert names(api.get("/tasks?q=y_r")) == ["Daily_Report"]
    assert names(api.get("/tasks?q=%25")) == []


def test_the_list_sorts_by_name_either_way(api):
    for name in ("bravo", "alpha", "charlie"):
        new_task(api, name=name)
    assert names(api.get("/tasks")) == ["alpha", "bravo", "charlie"]
    assert names(api.get("/tasks?sort=-name")) == ["charlie", "bravo", "alpha"]


def test_the_list_sorts_by_next_run_with_paused_tasks_last(api):
    new_task(api, name="hourly", schedule="every 1 hours")
    new_task(api, name="minutely", schedule="every 1 minutes")
    paused = new_task(api, name="paused", schedule="every 10 minutes")
    new_task(api, name="ten-minutely", schedule="every 10 minutes")
    api.post(f"/tasks/{paused['id']}/actions/pause")
    assert names(api.get("/tasks?sort=next_run_at")) == [
        "minutely", "ten-minutely", "hourly", "paused",
    ]  # fmt: skip
    assert names(api.get("/tasks?sort=-next_run_at")) == [
        "hourly", "ten-minutely", "minutely", "paused",
    ]  # fmt: skip


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1"])
def test_a_bad_limit_is_a_422_naming_limit(api, limit):
    assert error_fields(api.get(f"/tasks?limit={limit}")) == ["limit"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("offset=-1", "offset"), ("status=sleeping", "status"), ("sort=colour", "sort")],
)
def test_a_bad_list_parameter_is_a_422_naming_it(api, query, field):
    assert error_fields(api.get(f"/tasks?{query}")) == [field]


def test_an_unknown_query_parameter_is_a_422_naming_it(api):
    assert error_fields(api.get("/tasks?colour=blue")) == ["colour"]


# --- update -------------------------------------------------------------------------


@pytest.fixture(params=["PUT", "PATCH"])
def update(request, api):
    """Send a change with PUT or PATCH: both change only the fields given."""

    def send(ref: object, changes: Any, **options: Any):
        return api.open(request.param, f"/tasks/{ref}", json=changes, **options)

    return send


def test_an_update_changes_only_the_fields_given(api, update):
    created = new_task(api, description="old", max_retries=2, tags=["ops"])
    response = update(created["id"], {"description": "new"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["description"] == "new"
    moved = {"description", "version", "updated_at"}
    assert {k: v for k, v in body.items() if k not in moved} == {
        k: v for k, v in created.items() if k not in moved
    }


def test_an_update_bumps_the_version_and_the_etag(api, update, clock):
    created = new_task(api)
    clock.advance(5)
    response = update(created["id"], {"description": "new"})
    assert response.get_json()["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert response.get_json()["updated_at"] == at(5)
    assert api.get(f"/tasks/{created['id']}").headers["ETag"] == '"2"'


def test_an_update_wakes_the_scheduler(api, update, publisher):
    created = new_task(api)
    update(created["id"], {"schedule": "every 5 minutes"})
    assert publisher.wakeups == 2


def test_a_schedule_change_moves_next_run_at_counting_from_now(api, update, clock):
    created = new_task(api, schedule="every 60 seconds")
    assert created["next_run_at"] == at(60)
    clock.advance(90)
    body = update(created["id"], {"schedule": "*/15 * * * *"}).get_json()
    assert body["schedule"] == "*/15 * * * *"
    assert body["next_run_at"] == at(15 * 60)


def test_a_timezone_change_moves_next_run_at(api, update):
    created = new_task(api, schedule="0 13 * * *")
    assert created["next_run_at"] == at(3600)
    body = update(created["id"], {"timezone": "Europe/Berlin"}).get_json()
    # 13:00 in Berlin (UTC+1 in November) is 12:00 UTC, just passed: tomorrow's.
    assert body["next_run_at"] == at(86400)


def test_an_update_with_the_current_if_match_applies(api, update):
    created = new_task(api)
    response = update(created["id"], {"description": "new"}, headers={"If-Match": '"1"'})
    assert response.status_code == 200
    assert response.get_json()["version"] == 2


def test_an_update_with_a_stale_if_match_is_a_409_and_changes_nothing(
    api, update, sessions, publisher
):
    created = new_task(api, description="first")
    update(created["id"], {"description": "second"})
    wakeups = publisher.wakeups
    response = update(created["id"], {"description": "third"}, headers={"If-Match": '"1"'})
    body = assert_problem(response, 409)
    assert "version 2" in body["detail"]
    task = load_task(sessions, created["id"])
    assert (task.description, task.version) == ("second", 2)
    assert publisher.wakeups == wakeups


def test_a_malformed_if_match_is_a_400(api, update):
    created = new_task(api)
    response = update(created["id"], {"description": "x"}, headers={"If-Match": '"v1"'})
    assert_problem(response, 400)


# Each request that changes a task, or runs it, honours If-Match as an update does.
CONDITIONAL = [
    ("delete", "", 204),
    ("post", "/actions/pause", 200),
    ("post", "/actions/resume", 200),
    ("post", "/actions/reset-retries", 200),
    ("post", "/actions/run", 202),
]


@pytest.mark.parametrize(("method", "suffix", "status"), CONDITIONAL)
def test_a_stale_if_match_refuses_a_delete_or_an_action_and_changes_nothing(
    api, update, sessions, method, suffix, status
):
    created = new_task(api)
    update(created["id"], {"description": "second"})
    before = load_task(sessions, created["id"])
    url = f"/tasks/{created['id']}{suffix}"
    extra = {"json": {}} if method == "post" else {}
    stale = getattr(api, method)(url, headers={"If-Match": '"1"'}, **extra)
    assert "version 2" in assert_problem(stale, 409)["detail"]
    assert_problem(getattr(api, method)(url, headers={"If-Match": "x"}, **extra), 400)
    after = load_task(sessions, created["id"])
    assert (after.version, after.enabled, after.manual_runs) == (
        before.version,
        before.enabled,
        before.manual_runs,
    )
    assert count_rows(sessions, Execution) == 0
    current = getattr(api, method)(url, headers={"If-Match": '"2"'}, **extra)
    assert current.status_code == status, current.get_data(as_text=True)


@pytest.mark.parametrize(
    "field", ["name", "handler", "schedule", "description", "max_retries", "params", "tags"]
)
def test_null_for_a_field_that_must_keep_a_value_is_a_422_and_changes_nothing(
    api, update, sessions, field
):
    created = new_task(api)
    assert error_fields(update(created["id"], {field: None})) == [field]
    assert load_task(sessions, created["id"]).version == 1


def test_null_clears_a_nullable_field(api, update):
    created = new_task(api, timeout=30, max_runs=5)
    body = update(created["id"], {"timeout": None, "max_runs": None}).get_json()
    assert body["timeout"] is None
    assert body["max_runs"] is None


def test_renaming_to_a_name_in_use_is_a_409_and_changes_nothing(api, update, sessions):
    new_task(api, name="taken")
    created = new_task(api, name="mine")
    assert_problem(update(created["id"], {"name": "taken"}), 409)
    task = load_task(sessions, created["id"])
    assert (task.name, task.version) == ("mine", 1)


def test_a_renamed_task_is_found_by_its_new_name_only(api, update):
    created = new_task(api, name="old-name")
    assert update("old-name", {"name": "new-name"}).status_code == 200
    assert api.get("/tasks/new-name").get_json()["id"] == created["id"]
    assert_problem(api.get("/tasks/old-name"), 404)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": "every blue moon"}, "schedule"),
        ({"handler": "needs-count"}, "params.count"),
        ({"params": {"count": 0}}, "params.count"),
        ({"end_at": "2026-11-01T00:00:00Z", "start_at": "2026-11-02T00:00:00Z"}, "end_at"),
        ({"retry_delay": -1}, "retry_delay"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_change_is_a_422_naming_the_field_and_changes_nothing(
    api, update, sessions, changes, field
):
    created = new_task(api, handler="needs-count", params={"count": 1})
    if "handler" in changes:
        created = new_task(api, name="echoer", handler="echo")
    assert field in error_fields(update(created["id"], changes))
    task = load_task(sessions, created["id"])
    assert task.version == 1
    assert task.schedule == "every 60 seconds"


def test_updating_an_unknown_task_is_a_404(update):
    assert_problem(update("nothing-here", {"description": "x"}), 404)


# --- delete -------------------------------------------------------------------------


def test_deleting_a_task_is_a_204_and_it_is_gone(api, sessions):
    created = new_task(api)
    response = api.delete(f"/tasks/{created['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(api.get(f"/tasks/{created['id']}"), 404)
    assert count_rows(sessions, Task) == 0


def test_deleting_a_task_keeps_its_history_and_its_id_is_never_reused(api, sessions):
    created = new_task(api, name="doomed")
    task = load_task(sessions, created["id"])
    finished = add_execution(sessions, task, START + timedelta(minutes=1))
    api.delete("/tasks/doomed")
    items = api.get("/executions").get_json()["items"]
    assert [(item["id"], item["task_id"], item["task_name"]) for item in items] == [
        (finished, created["id"], "doomed")
    ]
    assert items[0]["status"] == "succeeded"
    successor = new_task(api, name="successor")
    assert successor["id"] > created["id"]  # the old id still means the deleted task
    assert api.get(f"/tasks/{created['id']}").status_code == 404


def test_deleting_a_task_cancels_what_had_not_started(api, sessions, clock):
    created = new_task(api)
    task = load_task(sessions, created["id"])
    done = add_execution(sessions, task, START)
    scheduled = add_execution(
        sessions, task, START + timedelta(minutes=1), status=ExecutionStatus.SCHEDULED
    )
    queued = add_execution(
        sessions, task, START + timedelta(minutes=2), status=ExecutionStatus.QUEUED
    )
    clock.advance(30)
    api.delete(f"/tasks/{created['id']}")
    assert load_execution(sessions, done).status is ExecutionStatus.SUCCEEDED
    for execution_id in (scheduled, queued):
        execution = load_execution(sessions, execution_id)
        assert execution.status is ExecutionStatus.CANCELLED
        assert execution.finished_at == clock()
        assert execution.task_id == created["id"]


def test_deleting_an_unknown_task_is_a_404(api):
    assert_problem(api.delete("/tasks/404"), 404)


# --- actions ------------------------------------------------------------------------


def test_pausing_a_task_clears_next_run_at(api, publisher):
    created = new_task(api)
    response = api.post(f"/tasks/{created['id']}/actions/pause")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "paused"
    assert body["enabled"] is False
    assert body["next_run_at"] is None
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert publisher.wakeups == 2


def test_pausing_a_paused_task_changes_nothing(api):
    created = new_task(api)
    first = api.post(f"/tasks/{created['id']}/actions/pause").get_json()
    second = api.post(f"/tasks/{created['id']}/actions/pause").get_json()
    assert second == first


def test_resuming_a_task_makes_it_active_with_a_next_run_counted_from_now(api, clock):
    created = new_task(api, schedule="every 60 seconds")
    api.post(f"/tasks/{created['id']}/actions/pause")
    clock.advance(150)
    body = api.post(f"/tasks/{created['id']}/actions/resume").get_json()
    assert body["status"] == "active"
    assert body["enabled"] is True
    assert body["next_run_at"] == at(180)


def test_reset_retries_makes_a_failed_task_active_with_no_retries_counted(api, sessions):
    created = new_task(api)
    set_state(
        sessions, created["id"], state=TaskState.FAILED, retry_count=3, consecutive_failures=4
    )
    assert api.get(f"/tasks/{created['id']}").get_json()["status"] == "failed"
    response = api.post(f"/tasks/{created['id']}/actions/reset-retries")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "active"
    assert body["retry_count"] == 0
    assert body["consecutive_failures"] == 0
    assert body["next_run_at"] == created["next_run_at"]


def test_reset_retries_cancels_a_pending_retry(api, sessions, clock):
    created = new_task(api, max_retries=3)
    task = load_task(sessions, created["id"])
    queued = add_execution(sessions, task, START, status=ExecutionStatus.QUEUED)
    first = claimed(sessions, queued, clock())
    clock.advance(1)
    outcome = Outcome(ExecutionStatus.FAILED, error=ErrorInfo("RuntimeError", "boom"))
    recorded = settle(sessions, first, outcome, clock(), random.Random(0))
    assert recorded is not None and recorded.retry_execution_id is not None
    before = api.get(f"/tasks/{created['id']}").get_json()
    assert (before["status"], before["retry_count"]) == ("retry-scheduled", 1)

    body = api.post(f"/tasks/{created['id']}/actions/reset-retries").get_json()
    assert (body["status"], body["retry_count"]) == ("active", 0)
    retry = load_execution(sessions, recorded.retry_execution_id)
    assert retry.status is ExecutionStatus.CANCELLED


def test_reset_retries_gives_a_failed_one_time_task_a_run_now(api, sessions, clock):
    created = new_task(api, schedule="2026-11-24T12:30:00Z")
    set_state(sessions, created["id"], state=TaskState.FAILED, next_run_at=None, run_count=1)
    clock.advance(3600)
    body = api.post(f"/tasks/{created['id']}/actions/reset-retries").get_json()
    assert body["status"] == "active"
    assert body["next_run_at"] == clock().isoformat()


def test_running_a_task_now_writes_a_manual_execution_and_publishes_it(api, publisher, sessions):
    created = new_task(api, queue="reports", priority=4, timeout=20)
    response = api.post(f"/tasks/{created['id']}/actions/run")
    assert response.status_code == 202
    body = response.get_json()
    assert body["trigger"] == "manual"
    assert body["task_id"] == created["id"]
    assert body["status"] == "queued"
    assert body["scheduled_for"] == START.isoformat()
    assert body["test_mode"] is False
    assert publisher.execution_ids == [body["id"]]
    [message] = publisher.messages
    assert (message.queue, message.priority, message.timeout) == ("reports", 4, 20)
    stored = load_execution(sessions, body["id"])
    assert stored.status is ExecutionStatus.QUEUED
    assert stored.publish_lease_until is None


def test_a_run_now_that_redis_refuses_stays_scheduled_for_a_retry_and_wakes_the_scheduler(
    api, publisher, sessions, clock, settings
):
    created = new_task(api)
    publisher.fail_after = 0  # Redis went away: nothing publishes from here on
    wakeups = publisher.wakeups
    response = api.post(f"/tasks/{created['id']}/actions/run")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "scheduled"
    assert publisher.messages == []
    stored = load_execution(sessions, body["id"])
    assert stored.status is ExecutionStatus.SCHEDULED
    assert stored.publish_lease_until == clock() + timedelta(seconds=settings.publish_retry_after)
    assert publisher.wakeups == wakeups + 1


def test_run_now_params_are_validated_against_the_handlers_model(api, sessions, publisher):
    created = new_task(api, handler="needs-count", params={"count": 1})
    response = api.post(f"/tasks/{created['id']}/actions/run", json={"params": {"count": 99}})
    assert error_fields(response) == ["params.count"]
    assert count_rows(sessions, Execution) == 0
    assert publisher.messages == []


def test_run_now_params_and_test_mode_are_recorded_on_the_execution(api, sessions):
    created = new_task(api, handler="needs-count", params={"count": 1})
    response = api.post(
        f"/tasks/{created['id']}/actions/run", json={"params": {"count": 7}, "test_mode": True}
    )
    assert response.status_code == 202
    body = response.get_json()
    assert body["params"] == {"count": 7}
    assert body["test_mode"] is True
    stored = load_execution(sessions, body["id"])
    assert (stored.params, stored.test_mode) == ({"count": 7}, True)


def test_two_runs_in_the_same_instant_are_two_executions(api, publisher):
    created = new_task(api)
    first = api.post(f"/tasks/{created['id']}/actions/run").get_json()
    second = api.post(f"/tasks/{created['id']}/actions/run").get_json()
    assert first["id"] != second["id"]
    # Both belong to the instant they were asked for; each manual run has its own key.
    assert first["scheduled_for"] == second["scheduled_for"] == START.isoformat()
    assert publisher.execution_ids == [first["id"], second["id"]]


def test_a_run_request_with_an_unknown_field_is_a_422(api, sessions):
    created = new_task(api)
    response = api.post(f"/tasks/{created['id']}/actions/run", json={"priority": 9})
    assert error_fields(response) == ["priority"]
    assert count_rows(sessions, Execution) == 0


@pytest.mark.parametrize("action", ["pause", "resume", "reset-retries", "run"])
def test_an_action_on_an_unknown_task_is_a_404(api, action):
    assert_problem(api.post(f"/tasks/nothing-here/actions/{action}"), 404)


# --- next runs ----------------------------------------------------------------------


def test_next_runs_lists_the_coming_fire_times_in_order(api):
    created = new_task(api, schedule="every 15 minutes")
    response = api.get(f"/tasks/{created['id']}/next-runs?count=3")
    assert response.status_code == 200
    items = response.get_json()["items"]
    times = [datetime.fromisoformat(item) for item in items]
    assert len(times) == 3
    assert times == sorted(set(times))
    assert items == [at(15 * 60), at(30 * 60), at(45 * 60)]
    assert all(t.tzinfo is not None for t in times)


def test_next_runs_stop_at_max_runs(api):
    created = new_task(api, schedule="every 15 minutes", max_runs=2)
    assert len(api.get(f"/tasks/{created['id']}/next-runs?count=5").get_json()["items"]) == 2


def test_a_paused_task_has_no_next_runs(api):
    created = new_task(api)
    api.post(f"/tasks/{created['id']}/actions/pause")
    assert api.get(f"/tasks/{created['id']}/next-runs?count=3").get_json()["items"] == []


@pytest.mark.parametrize("count", ["0", "1001", "many"])
def test_a_bad_next_runs_count_is_a_422_naming_count(api, count):
    created = new_task(api)
    assert error_fields(api.get(f"/tasks/{created['id']}/next-runs?count={count}")) == ["count"]


def test_a_run_now_at_a_one_time_tasks_own_time_does_not_stop_the_scheduled_run(
    api, sessions, settings, publisher, clock
):
    created = new_task(api, schedule="2026-11-24T12:00:00Z")
    assert created["next_run_at"] == START.isoformat()
    api.post(f"/tasks/{created['id']}/actions/run")
    # max_runs is a timing field: the change re-arms the task from its schedule.
    body = api.patch(f"/tasks/{created['id']}", json={"max_runs": 3}).get_json()
    assert body["next_run_at"] == START.isoformat()
    Dispatcher(settings, sessions, publisher, clock).tick()
    with sessions() as session:
        rows = session.execute(
            select(Execution.trigger, Execution.status).order_by(Execution.id)
        ).all()
    # The slot is taken (not swallowed by the manual run's row); the overlap policy then
    # skips it, since the manual run is still queued.
    assert [tuple(row) for row in rows] == [
        (Trigger.MANUAL, ExecutionStatus.QUEUED),
        (Trigger.SCHEDULE, ExecutionStatus.SKIPPED),
    ]
