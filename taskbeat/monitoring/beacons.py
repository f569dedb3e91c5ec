"""Scheduler heartbeats: each scheduler process says it is alive, cheaply.

At most once a second a scheduler writes, in one pipelined round trip, its score in a
sorted set (the time of the beat) and a hash of its figures (the slowest wake-up since
its last beat, how many wake-ups) that expires on its own. A reader takes the members
scored within `alive_after`; a scheduler that stops cleanly removes itself, one that
dies drops out when its beat grows old.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import redis

from taskbeat.clock import Clock
from taskbeat.names import scheduler_beacon_key, scheduler_beacons_key

log = logging.getLogger(__name__)
BEAT_EVERY = 1.0  # seconds between two writes, however often the scheduler wakes


def scheduler_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SchedulerInfo:
    id: str
    last_beat: float  # epoch seconds
    wakeup_seconds: float  # the slowest wake-up in its last beat interval
    wakeups: int  # wake-ups since it started


class Beacon:
    """The heartbeat one scheduler process writes."""

    def __init__(
        self, client: redis.Redis, namespace: str, alive_after: float, clock: Clock
    ) -> None:
        self._redis = client
        self._set = scheduler_beacons_key(namespace)
        self.id = scheduler_id()
        self._hash = scheduler_beacon_key(namespace, self.id)
        self._alive_after = alive_after
        self._clock = clock
        self._last_beat = 0.0
        self._slowest = 0.0
        self._wakeups = 0

    def beat(self, wakeup_seconds: float) -> None:
        """Count a wake-up that took `wakeup_seconds`; write if a beat is due. Never
        raises: a Redis hiccup must not stop the dispatch loop."""
        self._wakeups += 1
        self._slowest = max(self._slowest, wakeup_seconds)
        now = self._clock().timestamp()
        if now - self._last_beat < BEAT_EVERY:
            return
        self._last_beat = now  # failed or not: the next try is a second away
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self._set, {self.id: now})
                pipe.zremrangebyscore(self._set, "-inf", now - 10 * self._alive_after)
                pipe.hset(
                    self._hash,
                    mapping={"wakeup_seconds": self._slowest, "wakeups": self._wakeups},
                )
                pipe.expire(self._hash, max(int(self._alive_after), 1))
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("scheduler heartbeat not written: %s", exc)
            return
        self._slowest = 0.0

    def clear(self) -> None:
        """This scheduler is stopping: it is no longer alive."""
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(self._set, self.id)
                pipe.delete(self._hash)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("scheduler heartbeat not cleared: %s", exc)


def alive_schedulers(
    client: redis.Redis, namespace: str, now: float, alive_after: float
) -> list[SchedulerInfo]:
    """The schedulers that beat within `alive_after` seconds of `now`."""
    found: list[tuple[bytes, float]] = list(
        client.zrangebyscore(  # type: ignore[arg-type]
            scheduler_beacons_key(namespace), now - alive_after, "+inf", withscores=True
        )
    )
    members = [(member.decode(), float(score)) for member, score in found]
    with client.pipeline(transaction=False) as pipe:
        for member, _ in members:
            pipe.hgetall(scheduler_beacon_key(namespace, member))
        details: list[dict[bytes, bytes]] = pipe.execute()
    return [
        SchedulerInfo(
            id=member,
            last_beat=score,
            wakeup_seconds=float(detail.get(b"wakeup_seconds", 0.0)),
            wakeups=int(detail.get(b"wakeups", 0)),
        )
        for (member, score), detail in zip(members, details, strict=True)
    ]
