"""/api/v1/executions and /api/v1/tasks/<ref>/executions: the history, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scheduler.dispatch import Dispatcher
from taskbeat.status import ExecutionStatus, Trigger
from tests.conftest import START
from tests.unit.api.conftest import add_execution, assert_problem, error_fields


@pytest.fixture
def dispatcher(settings, sessions, publisher, clock) -> Dispatcher:
    return Dispatcher(settings, sessions, publisher, clock)


def slot(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def every_page(api, path: str, limit: int) -> list[list[int]]:
    """Follow next_cursor from the first page to the last; the ids of each page."""
    pages: list[list[int]] = []
    cursor = None
    separator = "&" if "?" in path else "?"
    while True:
        url = f"{path}{separator}limit={limit}"
        if cursor is not None:
            url += f"&cursor={cursor}"
        body = api.get(url).get_json()
        assert body["limit"] == limit
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 100, "the cursor never ran out"


def test_dispatched_runs_are_listed_newest_first(api, make_task, dispatcher, clock):
    make_task(name="ticker", schedule="every 60 seconds", overlap="allow")
    for _ in range(3):
        clock.advance(60)
        assert dispatcher.tick().published == 1
    items = api.get("/executions").get_json()["items"]
    assert [item["scheduled_for"] for item in items] == [
        slot(3).isoformat(), slot(2).isoformat(), slot(1).isoformat(),
    ]  # fmt: skip
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    assert {(item["trigger"], item["status"], item["task_name"]) for item in items} == {
        ("schedule", "queued", "ticker")
    }


def test_a_tasks_executions_are_its_own_newest_first_by_id_or_name(api, make_task, sessions):
    mine = make_task(name="mine")
    other = make_task(name="other")
    expected = []
    for minute in range(4):
        expected.append(add_execution(sessions, mine, slot(minute)))
        add_execution(sessions, other, slot(minute))
    expected.reverse()
    assert ids(api.get("/tasks/mine/executions")) == expected
    assert ids(api.get(f"/tasks/{mine.id}/executions")) == expected


def test_the_executions_of_an_unknown_task_are_a_404(api):
    assert_problem(api.get("/tasks/nobody/executions"), 404)


@pytest.mark.parametrize("rows", [1, 6, 7, 8])
def test_paging_with_the_cursor_covers_every_execution_exactly_once(api, make_task, sessions, rows):
    task = make_task()
    written = [add_execution(sessions, task, slot(minute)) for minute in range(rows)]
    pages = every_page(api, "/executions", limit=3)
    seen = [execution_id for page in pages for execution_id in page]
    assert seen == sorted(written, reverse=True)
    assert all(len(page) == 3 for page in pages[:-1])
    assert len(pages[-1]) <= 3


def test_paging_a_tasks_executions_covers_each_of_its_rows_once(api, make_task, sessions):
    mine = make_task(name="mine")
    other = make_task(name="other")
    written = []
    for minute in range(5):
        written.append(add_execution(sessions, mine, slot(minute)))
        add_execution(sessions, other, slot(minute))
    pages = every_page(api, "/tasks/mine/executions", limit=2)
    assert [i for page in pages for i in page] == sorted(written, reverse=True)


def test_the_last_page_has_no_next_cursor(api, make_task, sessions):
    task = make_task()
    add_execution(sessions, task, slot(0))
    body = api.get("/executions?limit=5").get_json()
    assert len(body["items"]) == 1
    assert body["next_cursor"] is None


def test_executions_filter_by_status_trigger_and_task(api, make_task, sessions):
    mine = make_task(name="mine")
    other = make_task(name="other")
    failed = add_execution(sessions, mine, slot(0), status=ExecutionStatus.FAILED)
    manual = add_execution(sessions, mine, slot(1), trigger=Trigger.MANUAL)
    retry = add_execution(
        sessions,
        mine,
        slot(0),
        trigger=Trigger.RETRY,
        attempt=2,
        status=ExecutionStatus.SCHEDULED,
    )
    theirs = add_execution(sessions, other, slot(0), status=ExecutionStatus.FAILED)

    assert ids(api.get("/executions?status=failed")) == [theirs, failed]
    assert ids(api.get("/executions?status=scheduled")) == [retry]
    assert ids(api.get("/executions?trigger=manual")) == [manual]
    assert ids(api.get("/executions?trigger=retry")) == [retry]
    assert ids(api.get("/executions?task=mine")) == [retry, manual, failed]
    assert ids(api.get(f"/executions?task={other.id}")) == [theirs]
    assert ids(api.get("/executions?task=mine&status=failed")) == [failed]
    assert ids(api.get("/tasks/mine/executions?trigger=manual")) == [manual]


def test_paging_a_filtered_list_covers_each_match_once(api, make_task, sessions):
    task = make_task()
    failed = []
    for minute in range(7):
        status = ExecutionStatus.FAILED if minute % 2 else ExecutionStatus.SUCCEEDED
        execution_id = add_execution(sessions, task, slot(minute), status=status)
        if status is ExecutionStatus.FAILED:
            failed.append(execution_id)
    pages = every_page(api, "/executions?status=failed", limit=2)
    assert [i for page in pages for i in page] == sorted(failed, reverse=True)


def test_filtering_by_an_unknown_task_is_a_404(api):
    assert_problem(api.get("/executions?task=nobody"), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("cursor=0", "cursor"),
        ("cursor=x", "cursor"),
        ("status=exploded", "status"),
        ("trigger=whim", "trigger"),
        ("colour=blue", "colour"),
    ],
)
def test_a_bad_executions_query_is_a_422_naming_the_parameter(api, query, field):
    assert error_fields(api.get(f"/executions?{query}")) == [field]


def test_one_execution_shows_its_logs_and_traceback(api, make_task, sessions):
    task = make_task(name="crashy")
    execution_id = add_execution(
        sessions,
        task,
        slot(0),
        status=ExecutionStatus.FAILED,
        started_at=slot(0),
        finished_at=slot(0) + timedelta(seconds=2),
        duration=2.0,
        worker="w1@host",
        error_type="ValueError",
        error_message="bad value",
        error_traceback='Traceback (most recent call last):\n  File "x.py"\nValueError: bad value',
        logs=["INFO starting", "ERROR bad value"],
    )
    response = api.get(f"/executions/{execution_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == execution_id
    assert body["task_name"] == "crashy"
    assert body["status"] == "failed"
    assert body["logs"] == ["INFO starting", "ERROR bad value"]
    assert body["error"]["type"] == "ValueError"
    assert body["error"]["message"] == "bad value"
    assert body["error"]["traceback"].endswith("ValueError: bad value")
    assert (body["duration"], body["worker"]) == (2.0, "w1@host")


def test_an_execution_without_logs_shows_an_empty_list(api, make_task, sessions):
    execution_id = add_execution(sessions, make_task(), slot(0))
    body = api.get(f"/executions/{execution_id}").get_json()
    assert body["logs"] == []
    assert body["error"] is None


def test_the_list_leaves_out_logs_and_tracebacks(api, make_task, sessions):
    add_execution(
        sessions,
        make_task(),
        slot(0),
        status=ExecutionStatus.FAILED,
        error_type="ValueError",
        error_message="bad value",
        error_traceback="Traceback ...",
        logs=["a line"],
    )
    [item] = api.get("/executions").get_json()["items"]
    assert "logs" not in item
    assert item["error"] == {"type": "ValueError", "message": "bad value"}


@pytest.mark.parametrize("ref", ["999", "not-a-number"])
def test_an_unknown_execution_is_a_404_problem(api, ref):
    assert_problem(api.get(f"/executions/{ref}"), 404)
