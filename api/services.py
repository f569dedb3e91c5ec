"""What the views share, built once per app and found through `services()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from taskbeat.clock import Clock
from taskbeat.handler import HandlerRegistry
from taskbeat.models import Task
from taskbeat.outbox.publisher import Publisher
from taskbeat.outbox.relay import publish_leased, run_message
from taskbeat.settings import Settings
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest

EXTENSION = "taskbeat"


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: HandlerRegistry
    publisher: Publisher
    clock: Clock


def services() -> Services:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, Services)
    return found


def act_on_task(ref: str, action: Callable[..., Task], expected_version: int | None = None) -> Task:
    """Pause, resume or reset a task (an operation taking `ref`, `now` and an
    `expected_version`), then wake the schedulers: for the API's action routes and the
    dashboard's buttons alike."""
    found = services()
    with found.sessions.begin() as session:
        task = action(session, ref, now=found.clock(), expected_version=expected_version)
    found.publisher.wake_scheduler()
    return task


def run_task_now(ref: str, run: RunRequest, expected_version: int | None = None) -> int:
    """Run now: write the execution, then publish it straight away (the fast path); the
    new execution's id. If Redis refuses, the row stays due and the scheduler publishes it."""
    found = services()
    now = found.clock()
    lease_until = now + timedelta(seconds=found.settings.publish_lease)
    with found.sessions.begin() as session:
        execution, task = operations.create_manual_run(
            session,
            ref,
            run,
            found.registry,
            now=now,
            lease_until=lease_until,
            expected_version=expected_version,
        )
        message = run_message(execution.id, task)
    published = publish_leased(
        found.sessions, found.publisher, [message], found.clock, found.settings
    )
    if not published:
        found.publisher.wake_scheduler()
    return execution.id
