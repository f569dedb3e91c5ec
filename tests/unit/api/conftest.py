"""The Flask app on the unit SQLite database, API keys, and a client that sends one.

Helpers shared by the API tests live here too; the test modules import them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from api.app import create_app
from api.services import EXTENSION
from taskbeat.apikeys import create_key
from taskbeat.handler import HandlerRegistry
from taskbeat.models import Base, Execution, Task
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.settings import Settings
from taskbeat.status import ApiRole, ExecutionStatus, Trigger
from tests.conftest import FixedClock

BASE = "/api/v1"
PROBLEM_JSON = "application/problem+json"


class ApiClient:
    """The Flask test client, sending `key` as a Bearer token (none when `key` is None)."""

    def __init__(self, client: FlaskClient, key: str | None) -> None:
        self.client = client
        self.key = key

    def open(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **options: Any
    ) -> TestResponse:
        sent = dict(headers or {})
        if self.key is not None:
            sent.setdefault("Authorization", f"Bearer {self.key}")
        return self.client.open(BASE + path, method=method, headers=sent, **options)

    def get(self, path: str, **options: Any) -> TestResponse:
        return self.open("GET", path, **options)

    def post(self, path: str, **options: Any) -> TestResponse:
        return self.open("POST", path, **options)

    def put(self, path: str, **options: Any) -> TestResponse:
        return self.open("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> TestResponse:
        return self.open("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> TestResponse:
        return self.open("DELETE", path, **options)


@pytest.fixture
def app(
    settings: Settings,
    engine: Engine,  # the unit engine: its create_all makes the tables the app's engine uses
    registry: HandlerRegistry,
    publisher: RecordingPublisher,
    clock: FixedClock,
) -> Iterator[Flask]:
    app = create_app(settings, registry=registry, publisher=publisher, clock=clock)
    yield app
    app.extensions[EXTENSION].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _key(sessions: sessionmaker[Session], role: ApiRole, now: datetime) -> str:
    with sessions.begin() as session:
        _, plaintext = create_key(session, name=f"{role.value} key", role=role, now=now)
    return plaintext


@pytest.fixture
def admin_key(sessions: sessionmaker[Session], clock: FixedClock) -> str:
    return _key(sessions, ApiRole.ADMIN, clock())


@pytest.fixture
def viewer_key(sessions: sessionmaker[Session], clock: FixedClock) -> str:
    return _key(sessions, ApiRole.VIEWER, clock())


@pytest.fixture
def api(client: FlaskClient, admin_key: str) -> ApiClient:
    return ApiClient(client, admin_key)


@pytest.fixture
def viewer(client: FlaskClient, viewer_key: str) -> ApiClient:
    return ApiClient(client, viewer_key)


@pytest.fixture
def anonymous(client: FlaskClient) -> ApiClient:
    return ApiClient(client, None)


# --- helpers ------------------------------------------------------------------------


def new_task(api: ApiClient, **fields: Any) -> dict[str, Any]:
    """Create a task through the API (an echo every minute unless told otherwise)."""
    body = {"name": "report", "handler": "echo", "schedule": "every 60 seconds", **fields}
    response = api.post("/tasks", json=body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, Any] = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def error_fields(response: TestResponse) -> list[str]:
    """The fields a 422 problem names."""
    body = assert_problem(response, 422)
    return [error["field"] for error in body["errors"]]


def count_rows(sessions: sessionmaker[Session], model: type[Base]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def load_task(sessions: sessionmaker[Session], task_id: int) -> Task:
    with sessions() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task


def load_execution(sessions: sessionmaker[Session], execution_id: int) -> Execution:
    with sessions() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        return execution


def add_execution(
    sessions: sessionmaker[Session], task: Task, slot: datetime, **values: Any
) -> int:
    """Write one execution row of `task` directly; its id. A finished scheduled run
    unless `values` say otherwise."""
    row = {
        "task_id": task.id,
        "task_name": task.name,
        "trigger": Trigger.SCHEDULE,
        "scheduled_for": slot,
        "attempt": 1,
        "due_at": slot,
        "status": ExecutionStatus.SUCCEEDED,
        "created_at": slot,
        **values,
    }
    with sessions.begin() as session:
        execution = Execution(**row)
        session.add(execution)
        session.flush()
        return execution.id
