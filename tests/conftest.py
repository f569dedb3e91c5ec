"""Shared fixtures: settings on a temporary SQLite file, a fixed clock, a recording publisher."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from handlers import demo, maintenance
from taskbeat import apikeys
from taskbeat.db import make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.models import Base, Execution, Task
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.settings import Settings
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskDefinition
from taskbeat.tasks.operations import create_task
from tests import sample_handlers
from tests.services import INTEGRATION_REDIS_DB, postgres_database, redis_database

START = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


@pytest.fixture(autouse=True)
def quick_key_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are hashed with 100,000 PBKDF2 rounds (tens of milliseconds); a test makes
    many keys, and what it checks does not depend on the count."""
    monkeypatch.setattr(apikeys, "ITERATIONS", 1000)
    monkeypatch.setattr(apikeys, "LOOKUP_ITERATIONS", 1000)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'taskbeat.db'}",
        redis_url="redis://127.0.0.1:1/0",  # nothing listens: unit tests never reach Redis
        namespace="unit",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def registry() -> HandlerRegistry:
    return HandlerRegistry.from_modules([demo, maintenance, sample_handlers])


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def make_task(
    sessions: sessionmaker[Session], registry: HandlerRegistry, clock: FixedClock
) -> Callable[..., Task]:
    """Create a task through the core, as the API would: make_task(name=..., schedule=...)."""

    def create(**fields: Any) -> Task:
        values = {"name": "task", "handler": "echo", "schedule": "every 60 seconds", **fields}
        with sessions.begin() as session:
            return create_task(
                session,
                TaskDefinition.model_validate(values),
                registry,
                now=clock(),
                default_queue="taskbeat",
            )

    return create


@pytest.fixture
def run_now(sessions, registry, clock) -> Callable[..., Execution]:
    """A manual run of a task, as the API makes it: run_now(task, params=..., test_mode=...)."""

    def create(task: Task, **request: object) -> Execution:
        with sessions.begin() as session:
            execution, _ = operations.create_manual_run(
                session,
                task.name,
                RunRequest.model_validate(request),
                registry,
                now=clock(),
                lease_until=clock(),
            )
        return execution

    return create


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_database(INTEGRATION_REDIS_DB) as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by their directory, so `-m "not e2e"` and the like work."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for kind in ("integration", "e2e", "ui", "faults"):
            if kind in parts:
                item.add_marker(getattr(pytest.mark, kind))
