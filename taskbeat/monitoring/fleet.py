"""Queues and workers, as Redis and Celery see them.

Workers answer Celery's broadcast inspect; each answer takes up to `INSPECT_TIMEOUT`,
so one snapshot is shared for `INSPECT_CACHE` seconds, the questions are asked side by
side, and only one request thread asks at a time (the others get the last snapshot):
a page never waits on workers for more than about a second.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery
from kombu.transport.redis import Channel as RedisChannel

from taskbeat.clock import Clock
from taskbeat.monitoring.beacons import SchedulerInfo, alive_schedulers
from taskbeat.redis_clients import quick_client
from taskbeat.settings import Settings

INSPECT_TIMEOUT = 1.0
INSPECT_CACHE = 10.0
EMPTY_CACHE = 2.0  # no worker answered: ask again soon (one may be starting)
REDIS_TIMEOUT = 1.0
_QUESTIONS = ("stats", "active_queues", "active")


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    pool: str | None = None
    concurrency: int | None = None
    queues: list[str] = field(default_factory=list)
    active: list[dict[str, Any]] = field(default_factory=list)  # the runs it has started


@dataclass(frozen=True)
class WorkersSnapshot:
    workers: list[WorkerInfo]
    taken_at: float  # monotonic time of the inspect


def queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps a queue's messages in, one per priority step."""
    sep = RedisChannel.sep
    return [f"{queue}{sep}{step}" if step else queue for step in RedisChannel.priority_steps]


class Fleet:
    """Reads Redis and asks workers; one per API process, shared by its threads."""

    def __init__(self, settings: Settings, celery: Celery, clock: Clock) -> None:
        self._settings = settings
        self._celery = celery
        self._clock = clock
        self._redis = quick_client(settings.redis_url, REDIS_TIMEOUT)
        self._lock = threading.Lock()
        self._snapshot: WorkersSnapshot | None = None

    def ping(self) -> None:
        """Raises redis.RedisError when Redis cannot be reached."""
        self._redis.ping()

    def schedulers(self) -> list[SchedulerInfo]:
        return alive_schedulers(
            self._redis,
            self._settings.namespace,
            self._clock().timestamp(),
            self._settings.scheduler_alive_after,
        )

    def queue_depths(self, queues: list[str]) -> dict[str, int]:
        """Messages waiting in each queue (all priority steps together)."""
        with self._redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                for key in queue_keys(queue):
                    pipe.llen(key)
            lengths = pipe.execute()
        steps = len(RedisChannel.priority_steps)
        return {
            queue: sum(lengths[index * steps : (index + 1) * steps])
            for index, queue in enumerate(queues)
        }

    def workers(self) -> WorkersSnapshot | None:
        """The workers online: a snapshot at most INSPECT_CACHE old, or None when none
        was ever taken (Redis away, or another thread is taking the first one)."""
        snapshot = self._snapshot
        if snapshot is not None:
            keep = INSPECT_CACHE if snapshot.workers else EMPTY_CACHE
            if time.monotonic() - snapshot.taken_at < keep:
                return snapshot
        if not self._lock.acquire(blocking=False):
            return snapshot
        try:
            self.ping()
            self._snapshot = self._inspect()
        except (redis.RedisError, OSError):
            self._snapshot = None
        finally:
            self._lock.release()
        return self._snapshot

    def _inspect(self) -> WorkersSnapshot:
        def ask(question: str) -> dict[str, Any]:
            inspect = self._celery.control.inspect(timeout=INSPECT_TIMEOUT)
            return getattr(inspect, question)() or {}

        with ThreadPoolExecutor(len(_QUESTIONS), thread_name_prefix="inspect") as pool:
            stats, queues, active = pool.map(ask, _QUESTIONS)
        workers = [
            _worker(name, stats.get(name, {}), queues.get(name, []), active.get(name, []))
            for name in sorted(set(stats) | set(queues) | set(active))
        ]
        return WorkersSnapshot(workers, time.monotonic())

    def close(self) -> None:
        self._redis.close()


def _worker(
    name: str, stats: dict[str, Any], queues: list[dict[str, Any]], active: list[dict[str, Any]]
) -> WorkerInfo:
    pool = stats.get("pool") or {}
    # "celery.concurrency.prefork:TaskPool" -> "prefork"
    implementation = str(pool.get("implementation", "")).split(":")[0].rsplit(".", 1)[-1] or None
    concurrency = pool.get("max-concurrency")
    return WorkerInfo(
        name=name,
        pool=implementation,
        concurrency=int(concurrency) if isinstance(concurrency, int) else None,
        queues=sorted(str(queue.get("name")) for queue in queues),
        active=active,
    )
