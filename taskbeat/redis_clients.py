"""Redis clients for work that must not wait on a Redis that is away."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def quick_client(url: str, timeout: float) -> redis.Redis:
    """A client that fails at once when Redis is away: redis-py's default retries take
    seconds per call against a closed port, which a publish, a heartbeat or a health
    probe cannot wait for (each is tried again soon anyway)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
