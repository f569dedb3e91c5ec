"""The dashboard through Flask's test client: signing in, roles, CSRF, each page.
(tests/ui drives the same pages in a real browser against live processes.)"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.app import create_app
from api.dashboard import charts
from api.services import EXTENSION
from taskbeat.apikeys import revoke_key
from taskbeat.models import Task
from taskbeat.status import ExecutionStatus
from tests.conftest import START
from tests.unit.api.conftest import add_execution, load_task, new_task

ACTION_BUTTON = 'class="action"'


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, key: str):
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post("/sign-in", data={"key": key, "csrf_token": csrf(page)})


@pytest.fixture
def admin(client, admin_key):
    assert sign_in(client, admin_key).status_code == 302
    return client


@pytest.fixture
def viewer_page(app, viewer_key):
    client = app.test_client()
    assert sign_in(client, viewer_key).status_code == 302
    return client


def test_every_page_sends_a_visitor_without_a_session_to_sign_in(client):
    for path in ("/", "/tasks", "/tasks/x", "/executions", "/executions/1", "/workers"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=")


def test_signing_in_sets_an_httponly_samesite_cookie_and_goes_where_it_was_asked(client, admin_key):
    page = client.get("/sign-in?next=/tasks").get_data(as_text=True)
    response = client.post(
        "/sign-in?next=/tasks", data={"key": admin_key, "csrf_token": csrf(page)}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert admin_key not in cookie  # the cookie holds the key's id, signed, not the key


def test_pages_forbid_framing_and_foreign_scripts_and_are_not_cached(admin):
    response = admin.get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    script = admin.get("/static/dashboard/dashboard.js")
    assert script.status_code == 200 and "no-store" not in script.headers.get("Cache-Control", "")
    script.close()


def test_sign_in_never_redirects_off_the_site(client, admin_key):
    page = client.get("/sign-in").get_data(as_text=True)
    response = client.post(
        "/sign-in?next=//evil.example/x", data={"key": admin_key, "csrf_token": csrf(page)}
    )
    assert response.headers["Location"] == "/"


def test_a_wrong_key_is_refused_and_a_post_without_the_csrf_token_is_a_400(client, admin_key):
    page = client.get("/sign-in").get_data(as_text=True)
    wrong = client.post("/sign-in", data={"key": "tbk_wrong", "csrf_token": csrf(page)})
    assert wrong.status_code == 401
    assert "not valid" in wrong.get_data(as_text=True)
    forged = client.post("/sign-in", data={"key": admin_key})
    assert forged.status_code == 400
    assert client.get("/").status_code == 302  # still signed out


def test_a_viewer_sees_everything_but_no_action_button_and_cannot_act(viewer_page, api, sessions):
    task = new_task(api, name="nightly")
    for path in ("/", "/tasks", "/tasks/nightly", "/executions", "/workers"):
        response = viewer_page.get(path)
        assert response.status_code == 200, path
        assert ACTION_BUTTON not in response.get_data(as_text=True), path
    token = csrf(viewer_page.get("/tasks/nightly").get_data(as_text=True))
    response = viewer_page.post("/tasks/nightly/pause", data={"csrf_token": token})
    assert response.status_code == 403
    assert load_task(sessions, task["id"]).enabled


def test_an_admin_pauses_resumes_and_runs_a_task_from_its_page(admin, api, sessions, publisher):
    task = new_task(api, name="nightly")
    page = admin.get("/tasks/nightly").get_data(as_text=True)
    assert 'data-action="pause"' in page and 'data-action="run"' in page
    token = csrf(page)
    assert admin.post("/tasks/nightly/pause", data={"csrf_token": token}).status_code == 302
    assert not load_task(sessions, task["id"]).enabled
    assert 'data-action="resume"' in admin.get("/tasks/nightly").get_data(as_text=True)
    assert admin.post("/tasks/nightly/resume", data={"csrf_token": token}).status_code == 302
    assert load_task(sessions, task["id"]).enabled
    published = len(publisher.messages)
    assert admin.post("/tasks/nightly/run", data={"csrf_token": token}).status_code == 302
    assert len(publisher.messages) == published + 1
    history = admin.get("/tasks/nightly").get_data(as_text=True)
    assert ">manual<" in history


def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(admin, api, sessions):
    task = new_task(api, name="nightly")
    assert admin.post("/tasks/nightly/pause").status_code == 400
    assert admin.post("/tasks/nightly/pause", data={"csrf_token": "forged"}).status_code == 400
    assert load_task(sessions, task["id"]).enabled


def test_revoking_the_key_signs_its_sessions_out(admin, sessions, clock):
    assert admin.get("/").status_code == 200
    with sessions.begin() as session:
        revoke_key(session, 1, clock())
    assert admin.get("/").status_code == 302


def test_the_tasks_table_shows_schedule_status_success_rate_and_a_strip(admin, api, sessions):
    task = new_task(api, name="report", schedule="every 60 seconds", timezone="Europe/Paris")
    row = load_task(sessions, task["id"])
    for minute, status in enumerate(["succeeded", "failed", "succeeded", "succeeded"]):
        add_execution(sessions, row, START.replace(minute=minute), status=ExecutionStatus(status))
    html = admin.get("/tasks?sort=-name&q=rep").get_data(as_text=True)
    assert 'data-task="report"' in html
    assert "Europe/Paris" in html
    assert html.count('class="dot s-') == 4
    assert "75%" in html
    assert 'data-task="report"' not in admin.get("/tasks?q=zzz").get_data(as_text=True)
    for bad in ("sort=bogus", "page=0", "status=nope"):
        assert admin.get(f"/tasks?{bad}").status_code == 400, bad
    # A NUL anywhere in a query is refused before any page sees it, naming the parameter.
    refused = admin.get("/tasks?q=%00")
    assert (refused.status_code, refused.get_json()["errors"][0]["field"]) == (422, "q")


def test_a_failures_page_shows_its_traceback_and_logs(admin, api, sessions):
    task = new_task(api, name="report")
    execution_id = add_execution(
        sessions,
        load_task(sessions, task["id"]),
        START,
        status=ExecutionStatus.FAILED,
        error_type="ValueError",
        error_message="bad input",
        error_traceback="Traceback (most recent call last):\n  boom",
        logs=["a line it logged"],
    )
    html = admin.get(f"/executions/{execution_id}").get_data(as_text=True)
    assert 'id="traceback"' in html and "Traceback (most recent call last)" in html
    assert "a line it logged" in html and "bad input" in html
    detail = admin.get("/tasks/report").get_data(as_text=True)
    assert "Traceback (most recent call last)" in detail  # in the history, per attempt
    assert admin.get("/executions/999999").status_code == 404


def test_the_live_feed_returns_only_rows_newer_than_the_last_seen(admin, api, sessions):
    task = load_task(sessions, new_task(api, name="report")["id"])
    first = add_execution(sessions, task, START)
    second = add_execution(sessions, task, START.replace(minute=1))
    rows = admin.get(f"/executions/feed?after={first}").get_data(as_text=True)
    assert f'data-id="{second}"' in rows and f'data-id="{first}"' not in rows
    filtered = admin.get("/executions?status=failed").get_data(as_text=True)
    assert f'data-id="{second}"' not in filtered
    assert admin.get("/executions?since=not-a-time").status_code == 400


def test_the_feed_filters_by_time_read_as_utc(admin, api, sessions):
    task = load_task(sessions, new_task(api, name="report")["id"])
    early = add_execution(sessions, task, START, created_at=START)
    late = add_execution(sessions, task, START.replace(hour=13), created_at=START.replace(hour=13))
    html = admin.get("/executions?since=2026-11-24T12:30").get_data(as_text=True)
    assert f'data-id="{late}"' in html and f'data-id="{early}"' not in html
    html = admin.get("/executions?until=2026-11-24T12:30%2B00:00").get_data(as_text=True)
    assert f'data-id="{early}"' in html and f'data-id="{late}"' not in html


def test_the_overview_shows_counts_charts_and_what_needs_attention(admin, api, sessions):
    task = load_task(sessions, new_task(api, name="broken")["id"])
    with sessions.begin() as session:
        session.get(Task, task.id).state = "failed"
    html = admin.get("/").get_data(as_text=True)
    assert html.count("<svg") == 2
    assert "Needs attention" in html and "broken" in html
    assert "Redis unreachable" in html  # the unit settings point Redis nowhere


def test_every_process_with_the_same_admin_key_accepts_the_same_session(
    settings, engine, registry, publisher, clock, admin_key
):
    # gunicorn's workers each build the app (compose runs two): a session signed by one
    # must be good on the other, and no good on a deployment with another key.
    def app_with(key: str) -> Flask:
        return create_app(
            settings.model_copy(update={"admin_key": key}),
            registry=registry,
            publisher=publisher,
            clock=clock,
        )

    first, second, other = (
        app_with(k) for k in ("deploy-key-0123456789",) * 2 + ("other-key-0123456789",)
    )
    try:
        signed_in = first.test_client()
        assert sign_in(signed_in, admin_key).status_code == 302
        cookie = signed_in.get_cookie("taskbeat_session")
        for app, expected in ((second, 200), (other, 302)):
            client = app.test_client()
            client.set_cookie("taskbeat_session", cookie.value)
            assert client.get("/").status_code == expected
    finally:
        for app in (first, second, other):
            app.extensions[EXTENSION].engine.dispose()


def test_a_chart_stacks_each_buckets_outcomes_to_scale():
    series = {0: {"succeeded": 3, "failed": 1}, 600: {"skipped": 2}}
    svg = charts.bars("Runs", charts.outcome_bars(series, 0, 300, 3))
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill', svg)]
    # 3 buckets x (succeeded, failed, other); the tallest bar (4 runs) is the full 100 px.
    assert heights == [75.0, 25.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 50.0]
    assert "00:00 UTC: 4 (75% succeeded)" in svg
    assert "<script" not in charts.bars("<script>", [])
