"""Putting run messages on Redis, and waking the scheduler.

The scheduler publishes due executions; the API publishes only its run-now fast path;
both go through a `Publisher`. `RecordingPublisher` is the stub beside the real one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from kombu.messaging import Producer

from taskbeat.names import RUN_EXECUTION, broker_epoch_key, wakeup_channel
from taskbeat.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunMessage:
    execution_id: int
    queue: str
    priority: int = 0
    timeout: float | None = None


class Publisher(Protocol):
    def publish(self, messages: Sequence[RunMessage]) -> list[int]:
        """Publish in order; return the ids published (a prefix, if Redis failed midway)."""
        ...

    def wake_scheduler(self) -> None:
        """Ask the schedulers to look at the database now (best effort)."""
        ...

    def broker_was_reset(self) -> bool:
        """True once after Redis lost its data (and on first use): whatever was queued
        before may be gone and must be published again."""
        ...


# Publishing fails fast: a run that could not be published stays in the database and the
# scheduler tries again shortly, so waiting here (kombu retries for seconds by default)
# would only hold up the scheduler's wake-up or an API request.
FAIL_FAST = {"max_retries": 0, "connect_retries_timeout": 2}
CONNECT_TIMEOUT = 2.0


class CeleryPublisher:
    """Publishes over one long-lived connection, one batch at a time (thread-safe)."""

    def __init__(self, celery: Celery, redis_client: redis.Redis, settings: Settings) -> None:
        self._celery = celery
        self._redis = redis_client
        self._channel = wakeup_channel(settings.namespace)
        self._epoch_key = broker_epoch_key(settings.namespace)
        self._hard_grace = settings.hard_timeout_grace
        self._connection = celery.connection_for_write(transport_options=FAIL_FAST)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, celery: Celery) -> CeleryPublisher:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
        )
        return cls(celery, client, settings)

    def publish(self, messages: Sequence[RunMessage]) -> list[int]:
        published: list[int] = []
        if not messages:
            return published
        with self._lock:
            try:
                producer = Producer(self._connection)  # type: ignore[no-untyped-call]
                for message in messages:
                    self._send(message, producer)
                    published.append(message.execution_id)
            except (OperationalError, OSError, redis.RedisError) as exc:
                log.error(
                    "publishing stopped after %d of %d messages: %s",
                    len(published),
                    len(messages),
                    exc,
                )
                self._connection.close()  # reconnect on the next batch
        return published

    def _send(self, message: RunMessage, producer: object) -> None:
        limits = {}
        if message.timeout is not None:
            limits = {
                "soft_time_limit": message.timeout,
                "time_limit": message.timeout + self._hard_grace,
            }
        self._celery.send_task(
            RUN_EXECUTION,
            args=[message.execution_id],
            queue=message.queue,
            priority=message.priority,
            producer=producer,
            retry=False,
            **limits,
        )

    def wake_scheduler(self) -> None:
        try:
            self._redis.publish(self._channel, "wake")
        except redis.RedisError as exc:
            log.warning("could not wake the scheduler (it wakes on its own soon): %s", exc)

    def broker_was_reset(self) -> bool:
        # SET NX: only one scheduler sees the key missing, and it republishes.
        return bool(self._redis.set(self._epoch_key, uuid.uuid4().hex, nx=True))

    def close(self) -> None:
        self._connection.release()
        self._redis.close()


@dataclass
class RecordingPublisher:
    """Records what would be published; `fail_after` makes Redis 'go away' midway."""

    messages: list[RunMessage] = field(default_factory=list)
    wakeups: int = 0
    fail_after: int | None = None
    reset: bool = False  # set to make the next broker_was_reset() say Redis lost its data

    def publish(self, messages: Sequence[RunMessage]) -> list[int]:
        published: list[int] = []
        for message in messages:
            if self.fail_after is not None and len(self.messages) >= self.fail_after:
                break
            self.messages.append(message)
            published.append(message.execution_id)
        return published

    def wake_scheduler(self) -> None:
        self.wakeups += 1

    def broker_was_reset(self) -> bool:
        was_reset, self.reset = self.reset, False
        return was_reset

    @property
    def execution_ids(self) -> list[int]:
        return [message.execution_id for message in self.messages]
