"""What a worker checks before it takes any work: the guarantees it relies on.

1. Redis must not evict queue keys. Under `maxmemory-policy allkeys-*`, memory pressure
   may drop any key, a queue list with every message in it among them: refused.
   `noeviction` and `volatile-*` are fine: a `volatile-*` policy evicts only keys with
   a TTL, and the queue lists carry none (taskbeat declares no queue `x-expires`); what
   it may evict (alive keys, scheduler beacons) is rewritten every few seconds anyway.
   A Redis that does not answer `CONFIG GET` (some managed services) is warned about.
2. The visibility timeout should exceed the longest run: Redis hands an unacknowledged
   message to another worker after it. The claim keeps the copy from running twice,
   but the copy is wasted work and noise: warned.
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy import Engine

from taskbeat import store
from taskbeat.errors import ConfigurationError
from taskbeat.settings import Settings

log = logging.getLogger(__name__)

EVICTING_POLICIES = "allkeys-"


def check_redis_keeps_queues(client: redis.Redis) -> None:
    """Raise `ConfigurationError` if Redis may evict a queue key."""
    try:
        policy = str(client.config_get("maxmemory-policy").get("maxmemory-policy", ""))
    except redis.RedisError as exc:  # CONFIG disabled, or Redis away (Celery waits for it)
        log.warning("cannot read Redis's maxmemory-policy (%s); it must not be allkeys-*", exc)
        return
    if policy.startswith(EVICTING_POLICIES):
        raise ConfigurationError(
            f"Redis's maxmemory-policy is {policy}: it may evict queued messages under memory "
            "pressure. Set it to noeviction (or a volatile-* policy) and start again."
        )


def warn_if_visibility_timeout_short(settings: Settings, engine: Engine) -> None:
    """Log a warning if a task may run longer than the visibility timeout."""
    with engine.connect() as connection:
        longest = store.tasks.longest_timeout(connection)
    if longest is None:
        return
    needed = longest + settings.hard_timeout_grace
    if settings.visibility_timeout < needed:
        log.warning(
            "TASKBEAT_VISIBILITY_TIMEOUT (%gs) is below the longest task timeout plus its "
            "grace (%gs): Redis will hand such a run's message to another worker while it "
            "still runs (the claim drops the copy). Raise it above %gs.",
            settings.visibility_timeout,
            needed,
            needed,
        )
