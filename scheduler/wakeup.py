"""Wake the scheduler early when the API changes a task (Redis pub/sub)."""

from __future__ import annotations

import logging
import threading

import redis

log = logging.getLogger(__name__)


class Wakeup:
    """An event set by a pub/sub message or by `set()`; the loop sleeps on it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken


class WakeupListener:
    """A daemon thread that subscribes to the wake-up channel, reconnecting on errors."""

    def __init__(self, redis_url: str, channel: str, wakeup: Wakeup) -> None:
        self._redis_url = redis_url
        self._channel = channel
        self._wakeup = wakeup
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wakeup-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except redis.RedisError as exc:
                log.warning("wake-up channel unavailable (%s); retrying", exc)
                self._stopping.wait(1.0)

    def _listen(self) -> None:
        client = redis.Redis.from_url(self._redis_url)
        # redis-py types pubsub() from 8.2 on; before that the call is untyped.
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
        try:
            pubsub.subscribe(self._channel)
            # Whatever changed while we were not subscribed is picked up by one more look.
            self._wakeup.set()
            while not self._stopping.is_set():
                if pubsub.get_message(timeout=0.5) is not None:
                    self._wakeup.set()
        finally:
            pubsub.close()
            client.close()
