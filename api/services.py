"""What the views share, built once per app and found through `services()`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from taskbeat.clock import Clock
from taskbeat.handler import HandlerRegistry
from taskbeat.outbox.publisher import Publisher
from taskbeat.settings import Settings

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
