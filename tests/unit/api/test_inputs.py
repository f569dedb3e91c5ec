"""Input that once slipped past validation into a 500: each is now a clear 4xx."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from taskbeat.models import Task
from tests.unit.api.conftest import assert_problem, count_rows, error_fields

TASK = {"name": "report", "handler": "echo", "schedule": "@daily"}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api, sessions, constant):
    body = '{"name": "report", "handler": "echo", "schedule": "@daily", "params": {"x": %s}}'
    response = api.post("/tasks", data=body % constant, content_type="application/json")
    assert_problem(response, 400)
    assert count_rows(sessions, Task) == 0


def test_a_body_nested_too_deeply_is_a_400(api):
    response = api.post("/tasks", data="[" * 100_000 + "]" * 100_000)
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TASK, "description": "a\x00b"}, "description"),
        ({**TASK, "params": {"note": "a\x00b"}}, "params.note"),
        ({**TASK, "params": {"a\x00b": 1}}, "params.a\x00b"),
        ({**TASK, "tags": ["ok", "a\x00"]}, "tags.1"),
    ],
)
def test_a_nul_character_anywhere_in_the_body_is_refused_by_name(api, sessions, body, field):
    response = api.post("/tasks", json=body)
    assert error_fields(response) == [field]
    assert count_rows(sessions, Task) == 0


@pytest.mark.parametrize("query", ["q=a%00b", "handler=%00", "tag=x%00"])
def test_a_nul_character_in_the_query_is_refused_by_name(api, query):
    response = api.get(f"/tasks?{query}")
    assert error_fields(response) == [query.split("=")[0]]


@pytest.mark.parametrize("ref", ["a%00b", "%C2%B2", "%D9%A3"])
def test_odd_task_references_are_not_found(api, ref):
    assert_problem(api.get(f"/tasks/{ref}"), 404)


@pytest.mark.parametrize("zone", ["America", "Europe/", "../etc/passwd", "/etc/localtime"])
def test_a_timezone_that_is_a_directory_or_a_path_is_a_422(api, zone):
    response = api.post("/tasks", json={**TASK, "timezone": zone})
    assert error_fields(response) == ["timezone"]


@pytest.mark.parametrize("schedule", ["R R * * *", "0 H * * *", "H(0-29) * * * *"])
def test_random_and_hashed_cron_values_are_refused(api, schedule):
    response = api.post("/tasks", json={**TASK, "schedule": schedule})
    assert error_fields(response) == ["schedule"]
    assert "not supported" in response.get_json()["detail"]


def test_a_zero_misfire_grace_is_refused(api):
    response = api.post("/tasks", json={**TASK, "misfire_grace": 0})
    assert error_fields(response) == ["misfire_grace"]


def test_an_end_before_the_first_run_is_refused_on_create(api, sessions):
    response = api.post(
        "/tasks", json={**TASK, "schedule": "every 1 hours", "end_at": "2026-11-24T12:30:00Z"}
    )
    assert error_fields(response) == ["end_at"]
    assert count_rows(sessions, Task) == 0


def test_the_schedule_preview_lists_fire_times_in_the_zone(api):
    response = api.get(
        "/schedules/preview?schedule=30%202%20*%20*%20*&timezone=America/New_York&count=3"
        "&start_at=2027-03-13T00:00:00"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["recurring"] is True
    # 02:30 does not exist on 2027-03-14 in New York: it runs once, at 03:30 EDT.
    assert body["items"] == [
        "2027-03-13T07:30:00+00:00",
        "2027-03-14T07:30:00+00:00",
        "2027-03-15T06:30:00+00:00",
    ]


def test_the_preview_of_a_one_time_schedule_has_one_time(api):
    body = api.get("/schedules/preview?schedule=now").get_json()
    assert len(body["items"]) == 1
    assert body["recurring"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("schedule=61%20*%20*%20*%20*", "schedule"),
        ("schedule=@daily&timezone=Mars/Base", "timezone"),
        ("schedule=@daily&count=0", "count"),
        ("", "schedule"),
    ],
)
def test_a_bad_preview_request_names_the_field(api, query, field):
    assert error_fields(api.get(f"/schedules/preview?{query}")) == [field]


def test_the_preview_needs_a_key(anonymous):
    assert_problem(anonymous.get("/schedules/preview?schedule=@daily"), 401)


@pytest.mark.parametrize("written", ["5_0", "+5", " 5", "5 ", "\u0665", "0x5", "5.0", "1e2"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/executions?limit={}", "limit"),
        ("/executions?cursor={}", "cursor"),
        ("/tasks?offset={}", "offset"),
        ("/audit?limit={}", "limit"),
        ("/schedules/preview?schedule=@daily&count={}", "count"),
        ("/stats?window={}", "window"),
    ],
)
def test_a_number_in_a_query_is_decimal_digits_only(api, path, field, written):
    # pydantic alone reads these as Python's int() does (5_0 is 50, " 5" is 5).
    assert error_fields(api.get(path.format(quote(written)))) == [field]


@pytest.mark.parametrize(
    "value", [0, 1700000000, -1.5, True, "-1", "0", "1700000000", "2027-03-01"]
)
@pytest.mark.parametrize("field", ["start_at", "end_at"])
def test_a_time_is_a_string_with_a_date_and_a_time(api, sessions, field, value):
    # pydantic alone reads a number, or a string of digits, as seconds since 1970, and
    # a date as its midnight.
    response = api.post("/tasks", json={**TASK, field: value})
    assert error_fields(response) == [field]
    assert "ISO 8601" in response.get_json()["detail"]
    assert count_rows(sessions, Task) == 0


@pytest.mark.parametrize("value", ["0", "1700000000", "2027-03-01"])
def test_the_previews_start_is_a_date_and_a_time_too(api, value):
    query = f"/schedules/preview?schedule=@daily&start_at={value}"
    assert error_fields(api.get(query)) == ["start_at"]
    assert (
        api.get("/schedules/preview?schedule=@daily&start_at=2027-03-01 09:00").status_code == 200
    )


@pytest.mark.parametrize("query", ["q=%FF%FE", "handler=%ED%A0%80", "tag=%C0%AF", "%FF=1"])
def test_a_query_string_that_is_not_utf8_is_a_400(api, query):
    # Werkzeug alone keeps these as their %XX text, and the listing answers 200.
    assert "UTF-8" in assert_problem(api.get(f"/tasks?{query}"), 400)["detail"]
    assert api.get("/tasks?q=%C3%A9t%C3%A9").status_code == 200


class BrokenBody(io.RawIOBase):
    """A request body as gunicorn reads a malformed chunked one: it fails when read."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self.error


BODY_ERRORS = [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"XX"), NoMoreData(b"")]


@pytest.mark.parametrize("error", BODY_ERRORS, ids=lambda e: type(e).__name__)
def test_a_body_that_cannot_be_read_is_a_400_for_the_api_and_the_dashboard(
    api, client, sessions, error
):
    # A chunked body: gunicorn marks the stream terminated, and sends no length.
    broken = {"wsgi.input": BrokenBody(error), "wsgi.input_terminated": True}
    json_body = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    response = api.post("/tasks", headers=json_body, environ_overrides=broken)
    assert_problem(response, 400)  # a body cut short is Werkzeug's ClientDisconnected
    form = {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"}
    signing_in = client.post("/sign-in", headers=form, environ_overrides=broken)
    assert signing_in.status_code == 400
    assert count_rows(sessions, Task) == 0
