"""kombu's Redis transport, with one Redis client per connection pool instead of one per
command.

With acks late, a worker's main process makes two Redis transactions for every message:
it adds the message to the unacked set when it takes it, and removes it when the run is
acknowledged. kombu builds a new `redis.Redis` for each of them, and redis-py copies its
table of response callbacks (a few hundred entries) into every new client: a fifth of
the main process's CPU per message in py-spy (bench/README.md). A client is only a view
of its connection pool (each command borrows a connection from the pool), so one client
per pool serves every call, in the event loop's thread and any other. Everything else,
the wire format and what is kept where, is kombu's.

Used by the worker's Celery app for `redis://` and `rediss://` brokers
(`TRANSPORT`); other brokers keep their own transports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

TRANSPORT = f"{__name__}:Transport"
SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    @contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        yield client if client else self._shared_client()

    def _shared_client(self) -> redis.Redis:
        # Not `self.client` (the BRPOP client) nor `self.subclient`: kombu pins a
        # connection of their own to those two.
        cached: tuple[Any, redis.Redis] | None = self.__dict__.get("_shared")
        # kombu replaces its pool after a connection error: a new pool, a new client.
        if cached is None or cached[0] is not self.pool:
            cached = (self.pool, self._create_client())  # type: ignore[no-untyped-call]
            self.__dict__["_shared"] = cached
        return cached[1]


class Transport(kombu_redis.Transport):
    Channel = Channel
