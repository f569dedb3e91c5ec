"""What health, stats, metrics and the dashboard read, gathered in one place per app.

Redis and the workers are asked through one `Fleet` per process (its inspect answers are
cached); the database through `store.stats`'s bounded queries. `monitor()` finds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import redis
from flask import Flask, current_app

from api.services import Services
from taskbeat import store
from taskbeat.celery_app import make_celery
from taskbeat.monitoring.beacons import SchedulerInfo
from taskbeat.monitoring.fleet import Fleet, WorkersSnapshot

EXTENSION = "taskbeat.monitor"
QUEUE_LIST_CACHE = 60.0  # the queues tasks use change rarely; listing them reads every task
T = TypeVar("T")


@dataclass(frozen=True)
class RedisView:
    """Redis as one request saw it: None everywhere (and `error`) when it was away."""

    error: str | None
    schedulers: list[SchedulerInfo] | None
    queue_depths: dict[str, int] | None


class Monitor:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.fleet = Fleet(services.settings, make_celery(services.settings), services.clock)
        self._cache: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str, seconds: float, compute: Callable[[], T]) -> T:
        """`compute()`, reused for `seconds` (two threads may both compute: harmless)."""
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < seconds:
            return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def queues(self) -> list[str]:
        def listed() -> list[str]:
            with self.services.sessions() as session:
                found = set(store.stats.queues(session))
            return sorted(found | {self.services.settings.default_queue})

        return self.cached("queues", QUEUE_LIST_CACHE, listed)

    def redis_view(self) -> RedisView:
        try:
            self.fleet.ping()
            return RedisView(None, self.fleet.schedulers(), self.fleet.queue_depths(self.queues()))
        except redis.RedisError as exc:
            return RedisView(f"{type(exc).__name__}: {exc}", None, None)

    def workers(self) -> WorkersSnapshot | None:
        return self.fleet.workers()

    def since(self, seconds: float) -> datetime:
        return self.services.clock() - timedelta(seconds=seconds)


def register_monitor(app: Flask, services: Services) -> Monitor:
    found = Monitor(services)
    app.extensions[EXTENSION] = found
    return found


def monitor() -> Monitor:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, Monitor)
    return found
