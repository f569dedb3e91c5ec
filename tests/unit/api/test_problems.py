"""Every error leaves as application/problem+json with type, title, status and detail;
malformed requests are 400s, and no input gets a 500."""

from __future__ import annotations

import pytest

from taskbeat.models import Task
from tests.unit.api.conftest import (
    BASE,
    ApiClient,
    assert_problem,
    count_rows,
    error_fields,
    new_task,
)

TASK = {"name": "report", "handler": "echo", "schedule": "@daily"}
BIG = 10**20  # past any database integer


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"name": "report",}', b"\xff\xfe\x00", b"null"],
    ids=["unquoted", "trailing comma", "not utf-8", "null"],
)
def test_a_body_that_is_not_json_is_a_400(api, sessions, raw):
    response = api.post("/tasks", data=raw, content_type="application/json")
    assert_problem(response, 400)
    assert count_rows(sessions, Task) == 0


@pytest.mark.parametrize("raw", [b"[]", b'[{"name": "report"}]', b'"report"', b"3"])
def test_a_json_body_that_is_not_an_object_is_a_400(api, sessions, raw):
    response = api.post("/tasks", data=raw, content_type="application/json")
    body = assert_problem(response, 400)
    assert "object" in body["detail"]
    assert count_rows(sessions, Task) == 0


@pytest.mark.parametrize("raw", [b"", b"  \n"])
def test_an_empty_body_on_create_is_a_400(api, raw):
    response = api.post("/tasks", data=raw, content_type="application/json")
    assert_problem(response, 400)


def test_an_empty_body_on_update_is_a_400(api):
    new_task(api)
    assert_problem(api.patch("/tasks/report", data=b"", content_type="application/json"), 400)


def test_a_malformed_body_on_run_now_is_a_400(api):
    new_task(api)
    response = api.post("/tasks/report/actions/run", data=b"{", content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/tasks", {"GET", "POST"}),
        ("POST", "/executions", {"GET"}),
        ("POST", "/tasks/report", {"GET", "PUT", "PATCH", "DELETE"}),
        ("GET", "/tasks/report/actions/run", {"POST"}),
    ],
)
def test_a_wrong_method_is_a_405_problem_with_allow(api, method, path, allowed):
    response = api.open(method, path)
    assert_problem(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


@pytest.mark.parametrize("path", [f"{BASE}/nowhere", f"{BASE}/tasks/report/actions/fly", "/x"])
def test_an_unknown_route_is_a_404_problem(client, admin_key, path):
    response = client.get(path, headers={"Authorization": f"Bearer {admin_key}"})
    assert_problem(response, 404)


def test_problem_types_are_uris_named_for_the_problem(api):
    body = assert_problem(api.get("/tasks/nothing"), 404)
    assert body["type"].startswith("https://")
    assert body["type"].endswith("/not-found")
    assert body["title"] == "Not found"


def error_responses(api: ApiClient, anonymous: ApiClient, viewer: ApiClient):
    """One request for each kind of error the API gives."""
    new_task(api)
    yield 400, api.post("/tasks", data=b"[", content_type="application/json")
    yield 401, anonymous.get("/tasks")
    yield 403, viewer.delete("/tasks/report")
    yield 404, api.get("/executions/12345")
    yield 405, api.open("PATCH", "/executions")
    yield 409, api.post("/tasks", json=TASK)
    yield 409, api.patch("/tasks/report", json={"description": "x"}, headers={"If-Match": '"7"'})
    yield 422, api.post("/tasks", json={**TASK, "name": "other", "schedule": "nope"})
    yield 422, api.get("/tasks?limit=0")


def test_every_error_is_problem_json_with_type_title_status_and_detail(api, anonymous, viewer):
    seen = set()
    for status, response in error_responses(api, anonymous, viewer):
        body = assert_problem(response, status)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert body["type"].startswith("https://")
        seen.add(status)
    assert seen == {400, 401, 403, 404, 405, 409, 422}


def test_a_422_lists_each_field_with_a_message(api):
    response = api.post("/tasks", json={"name": "1", "handler": "", "schedule": "@daily"})
    body = assert_problem(response, 422)
    assert sorted(error["field"] for error in body["errors"]) == ["handler", "name"]
    assert all(error["message"] for error in body["errors"])
    assert "name" in body["detail"] and "handler" in body["detail"]


# --- input beyond what the database or the calendar holds: a 4xx, never a 500 -------


def test_an_integer_too_big_for_the_database_is_a_422_on_create(api, sessions):
    assert error_fields(api.post("/tasks", json={**TASK, "max_runs": BIG})) == ["max_runs"]
    assert count_rows(sessions, Task) == 0


def test_an_integer_too_big_for_the_database_is_a_422_on_update(api, sessions):
    new_task(api)
    assert error_fields(api.patch("/tasks/report", json={"max_runs": BIG})) == ["max_runs"]


@pytest.mark.parametrize(
    ("path", "field"), [(f"/tasks?offset={BIG}", "offset"), (f"/executions?cursor={BIG}", "cursor")]
)
def test_a_paging_number_too_big_for_the_database_is_a_422(api, path, field):
    assert error_fields(api.get(path)) == [field]


@pytest.mark.parametrize(
    "path", [f"/tasks/{BIG}", f"/executions/{BIG}", f"/tasks/{BIG}/executions"]
)
def test_an_id_too_big_for_the_database_is_a_404(api, path):
    assert_problem(api.get(path), 404)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"end_at": "9999-12-31T23:59:59-12:00"}, {"end_at"}),
        ({"start_at": "9999-12-31T23:59:59-12:00"}, {"start_at"}),
        ({"schedule": "9999-12-31T23:59:59-12:00"}, {"schedule"}),
        # The schedule has no fire time left after start_at: either field is to blame.
        ({"start_at": "9999-12-31T23:59:59Z"}, {"start_at", "schedule"}),
    ],
    ids=["end_at", "start_at", "one-time schedule", "no fire time after start_at"],
)
def test_a_time_past_the_end_of_the_calendar_is_a_422(api, sessions, fields, named):
    fields_named = error_fields(api.post("/tasks", json={**TASK, **fields}))
    assert set(fields_named) & named
    assert count_rows(sessions, Task) == 0


def test_next_runs_at_the_end_of_the_calendar_lists_the_times_that_exist(api):
    new_task(api, schedule="@daily", start_at="9999-12-30T00:00:00Z")
    response = api.get("/tasks/report/next-runs?count=3")
    assert response.status_code == 200
    # start_at is inclusive: 9999-12-30 is a fire time (croniter used to skip it).
    assert response.get_json()["items"] == [
        "9999-12-30T00:00:00+00:00",
        "9999-12-31T00:00:00+00:00",
    ]
