"""Bearer API keys: no key or a dead key is a 401, a viewer key only reads."""

from __future__ import annotations

import pytest

from taskbeat.apikeys import create_key, revoke_key
from taskbeat.models import Execution, Task
from taskbeat.status import ApiRole
from tests.unit.api.conftest import ApiClient, assert_problem, count_rows, load_task, new_task


def assert_unauthorized(response) -> None:
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_a_key_is_a_401_with_www_authenticate(anonymous):
    assert_unauthorized(anonymous.get("/tasks"))


def test_a_write_without_a_key_is_a_401_and_writes_nothing(anonymous, sessions):
    response = anonymous.post(
        "/tasks", json={"name": "report", "handler": "echo", "schedule": "@daily"}
    )
    assert_unauthorized(response)
    assert count_rows(sessions, Task) == 0


def test_a_wrong_key_is_a_401(client):
    assert_unauthorized(ApiClient(client, "tbk_not-a-key-anyone-was-given").get("/tasks"))


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "tbk_bare-key", "Token x"]
)
def test_a_header_that_is_not_a_bearer_key_is_a_401(anonymous, authorization):
    assert_unauthorized(anonymous.get("/tasks", headers={"Authorization": authorization}))


def test_the_bearer_scheme_is_case_insensitive(anonymous, admin_key):
    response = anonymous.get("/tasks", headers={"Authorization": f"bearer {admin_key}"})
    assert response.status_code == 200


def test_a_revoked_key_is_a_401(client, sessions, clock):
    with sessions.begin() as session:
        key, plaintext = create_key(session, name="leaked", role=ApiRole.ADMIN, now=clock())
    api = ApiClient(client, plaintext)
    assert api.get("/tasks").status_code == 200
    clock.advance(60)
    with sessions.begin() as session:
        revoke_key(session, key.id, clock())
    assert_unauthorized(api.get("/tasks"))


VIEWER_READS = [
    "/tasks",
    "/tasks/report",
    "/tasks/report/next-runs?count=2",
    "/tasks/report/executions",
    "/executions",
    "/handlers",
]


@pytest.mark.parametrize("path", VIEWER_READS)
def test_a_viewer_key_reads(api, viewer, path):
    new_task(api, name="report")
    assert viewer.get(path).status_code == 200


VIEWER_WRITES = [
    ("POST", "/tasks", {"name": "other", "handler": "echo", "schedule": "@daily"}),
    ("PUT", "/tasks/report", {"description": "changed"}),
    ("PATCH", "/tasks/report", {"description": "changed"}),
    ("DELETE", "/tasks/report", None),
    ("POST", "/tasks/report/actions/pause", None),
    ("POST", "/tasks/report/actions/resume", None),
    ("POST", "/tasks/report/actions/reset-retries", None),
    ("POST", "/tasks/report/actions/run", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), VIEWER_WRITES, ids=[f"{m} {p}" for m, p, _ in VIEWER_WRITES]
)
def test_a_viewer_key_may_not_write(api, viewer, sessions, publisher, method, path, body):
    created = new_task(api, name="report")
    wakeups = publisher.wakeups
    response = viewer.open(method, path, json=body)
    problem = assert_problem(response, 403)
    assert "admin" in problem["detail"]
    task = load_task(sessions, created["id"])
    assert (task.description, task.version, task.enabled) == ("", 1, True)
    assert count_rows(sessions, Task) == 1
    assert count_rows(sessions, Execution) == 0
    assert publisher.wakeups == wakeups
    assert publisher.messages == []


def test_health_needs_no_key_and_reports_each_dependency(anonymous):
    # The unit settings point Redis at a port nothing listens on; SQLite is there.
    response = anonymous.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down"
    components = body["components"]
    assert components["database"] == {"status": "ok"}
    assert components["redis"]["status"] == "down"
    assert components["redis"]["error"].startswith("ConnectionError")
    assert {"scheduler", "workers", "failure_rate"} <= set(components)
    assert "version" in body


def test_health_ignores_a_bad_key(client):
    response = ApiClient(client, "tbk_wrong").get("/health")
    assert response.status_code == 503
    assert response.get_json()["components"]["database"]["status"] == "ok"
