# ruff: noqa: UP031 - raw JSON bodies read best with %s in them
"""What fuzzing the API (issue 6, part 4) found, each now refused at the door with a 4xx
naming the field, or no longer possible."""

from __future__ import annotations

import json
import os
import stat

import pytest

from taskbeat.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_PARAMS_BYTES
from taskbeat.models import Execution, Task
from tests.unit.api.conftest import ApiClient, assert_problem, count_rows, error_fields, new_task

TASK = {"name": "report", "handler": "echo", "schedule": "@daily"}


def raw_task(extra: str) -> str:
    return '{"name": "report", "handler": "echo", "schedule": "@daily", %s}' % extra


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("header", ['""', "", '"', "W/", '"3", "4"', '"x"'])
def test_an_if_match_that_is_not_one_version_is_a_400(api, method, header):
    new_task(api)
    response = api.open(method, "/tasks/report", json={"priority": 1}, headers={"If-Match": header})
    assert_problem(response, 400)


@pytest.mark.parametrize("number", ["1e309", "-1e309", "1E400"])
def test_numbers_beyond_a_double_are_refused_on_create_and_run(api, sessions, number):
    create = api.post("/tasks", data=raw_task('"params": {"x": %s}' % number))
    assert "beyond the range of a double" in assert_problem(create, 400)["detail"]
    new_task(api)
    run = api.post("/tasks/report/actions/run", data='{"params": {"x": %s}}' % number)
    assert_problem(run, 400)
    assert count_rows(sessions, Task) == 1
    assert count_rows(sessions, Execution) == 0


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_params_nested_past_the_limit_are_a_422_naming_where(api, sessions):
    ok = api.post("/tasks", data=raw_task('"params": {"a": %s}' % nested(MAX_JSON_DEPTH - 2)))
    assert ok.status_code == 201, ok.get_json()
    deep = raw_task('"name": "deep", "params": {"a": %s}' % nested(MAX_JSON_DEPTH))
    assert error_fields(api.post("/tasks", data=deep.replace('"name": "report", ', ""))) == [
        "params.a" + ".0" * (MAX_JSON_DEPTH - 3)
    ]
    assert count_rows(sessions, Task) == 1


@pytest.mark.parametrize("depth", [500, 940, 970, 100_000])
def test_deeply_nested_bodies_are_refused_at_the_door(api, sessions, depth):
    new_task(api)
    for path in ("/tasks", "/tasks/report/actions/run"):
        response = api.post(path, data='{"params": {"x": %s}}' % nested(depth))
        assert 400 <= response.status_code < 500
        assert response.mimetype == "application/problem+json"
    assert count_rows(sessions, Execution) == 0


def test_a_body_over_the_limit_is_a_413_problem(api, sessions):
    padding = "x" * MAX_BODY_BYTES
    response = api.post("/tasks", json={**TASK, "description": padding})
    assert_problem(response, 413)
    assert count_rows(sessions, Task) == 0


def test_params_over_their_limit_are_a_422(api, sessions):
    big = {"blob": "x" * MAX_PARAMS_BYTES}
    assert error_fields(api.post("/tasks", json={**TASK, "params": big})) == ["params"]
    new_task(api)
    assert error_fields(api.post("/tasks/report/actions/run", json={"params": big})) == ["params"]
    assert count_rows(sessions, Execution) == 0


def test_the_past_end_at_edit_of_a_task_that_never_ran_is_a_422(api, sessions):
    created = new_task(api, schedule="every 1 hours")
    response = api.patch("/tasks/report", json={"end_at": "2026-11-24T12:30:00Z"})
    assert error_fields(response) == ["end_at"]
    assert api.get("/tasks/report").get_json() == created


def test_an_empty_patch_keeps_the_version(api):
    new_task(api)
    response = api.patch("/tasks/report", json={})
    assert response.status_code == 200
    assert response.get_json()["version"] == 1
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "3"), ("enabled", "false"), ("max_retries", True), ("retry_delay", "5"),
     ("timeout", False), ("max_runs", 2.0), ("jitter", "0")],
)  # fmt: skip
def test_loose_coercion_is_refused(api, field, value):
    assert error_fields(api.post("/tasks", json={**TASK, field: value})) == [field]
    new_task(api)
    assert error_fields(api.patch("/tasks/report", json={field: value})) == [field]


def test_times_and_enums_still_come_as_strings(api):
    task = new_task(
        api, start_at="2026-12-01T00:00:00Z", overlap="allow", misfire="skip", retry_delay=5
    )
    assert (task["start_at"], task["overlap"], task["retry_delay"]) == (
        "2026-12-01T00:00:00+00:00",
        "allow",
        5.0,
    )


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "right/UTC", "Factory", "posix/UTC"])
def test_zone_files_that_are_not_iana_names_are_refused(api, zone):
    assert error_fields(api.post("/tasks", json={**TASK, "timezone": zone})) == ["timezone"]
    preview = api.get("/schedules/preview", query_string={"schedule": "@daily", "timezone": zone})
    assert error_fields(preview) == ["timezone"]


def test_a_lone_surrogate_is_refused_by_name(api, sessions):
    response = api.post("/tasks", data=raw_task('"params": {"a": ["\\ud800"]}'))
    assert error_fields(response) == ["params.a.0"]
    assert count_rows(sessions, Task) == 0


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nothing"), ("POST", "/health"), ("DELETE", "/tasks")]
)
def test_unknown_paths_and_methods_need_a_key_first(client, admin_key, method, path):
    assert_problem(ApiClient(client, None).open(method, path), 401)
    assert_problem(ApiClient(client, admin_key).open(method, path), 404 if method == "GET" else 405)


def test_the_sqlite_database_file_is_private(api, settings):
    path = settings.database_url.removeprefix("sqlite:///")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_stored_value_reads_back_the_same(api):
    params = {"big": 2**70, "tiny": 5e-324, "max": 1.7976931348623157e308, "text": "🙂\u2028"}
    new_task(api, params=params)
    listed = api.get("/tasks?limit=500").get_data(as_text=True)
    assert json.loads(listed)["items"][0]["params"] == params
