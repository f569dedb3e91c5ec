"""Putting run messages on Redis, and waking the schedulers.

The scheduler publishes due executions; the API publishes only its run-now fast path;
both go through a `Publisher`. `RecordingPublisher` is the stub beside the real one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import redis
from celery import Celery

from taskbeat.names import broker_epoch_key, wakeup_channel
from taskbeat.outbox.messages import MessageBuilder, RunMessage
from taskbeat.redis_clients import quick_client
from taskbeat.settings import Settings

log = logging.getLogger(__name__)

# Publishing fails fast: a run that could not be published stays in the database and
# the scheduler tries again shortly, so waiting here would only hold up a wake-up or an
# API request.
REDIS_TIMEOUT = 2.0
# Messages per pipeline round trip: large enough to amortize the trip, small enough that
# one failure leaves little in doubt.
PIPELINE_SIZE = 500


class Publisher(Protocol):
    def publish(self, messages: Sequence[RunMessage]) -> list[int]:
        """Publish in order; the ids surely published (a prefix, if Redis failed midway)."""
        ...

    def wake_scheduler(self) -> None:
        """Ask the schedulers to look at the database now (best effort)."""
        ...

    def broker_was_reset(self) -> bool:
        """True once after Redis lost its data (and on first use): whatever was queued
        before may be gone and must be published again."""
        ...


class RedisPublisher:
    """Publishes pipelined batches over one Redis connection pool (thread-safe)."""

    def __init__(self, client: redis.Redis, builder: MessageBuilder, settings: Settings) -> None:
        self._redis = client
        self._builder = builder
        self._channel = wakeup_channel(settings.namespace)
        self._epoch_key = broker_epoch_key(settings.namespace)

    @classmethod
    def from_settings(
        cls, settings: Settings, celery: Celery, client: redis.Redis | None = None
    ) -> RedisPublisher:
        """A publisher on `client`, or on a fail-fast client of its own."""
        client = client or quick_client(settings.redis_url, REDIS_TIMEOUT)
        return cls(client, MessageBuilder(celery, settings.hard_timeout_grace), settings)

    def publish(self, messages: Sequence[RunMessage]) -> list[int]:
        published: list[int] = []
        try:
            for start in range(0, len(messages), PIPELINE_SIZE):
                wire = [self._builder.build(m) for m in messages[start : start + PIPELINE_SIZE]]
                with self._redis.pipeline(transaction=False) as pipe:
                    for message in wire:
                        pipe.lpush(message.key, message.payload)
                    pipe.execute()
                published.extend(message.execution_id for message in wire)
        except (redis.RedisError, OSError) as exc:
            # The failed batch may be partly on Redis: those rows are published again
            # later, and the claim lets one copy through.
            log.error(
                "publishing stopped after %d of %d messages: %s",
                len(published),
                len(messages),
                exc,
            )
        return published

    def wake_scheduler(self) -> None:
        try:
            self._redis.publish(self._channel, "wake")
        except redis.RedisError as exc:
            log.warning("could not wake the scheduler (it wakes on its own soon): %s", exc)

    def broker_was_reset(self) -> bool:
        # SET NX: only one scheduler sees the key missing, and it republishes.
        return bool(self._redis.set(self._epoch_key, uuid.uuid4().hex, nx=True))

    def close(self) -> None:
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
