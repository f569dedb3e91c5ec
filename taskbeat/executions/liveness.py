"""A run's second liveness signal, in Redis, so a database outage is not taken for a
dead worker.

1. The worker's heartbeat thread sets `<namespace>:alive:<execution id>` for each run it
   executes, every heartbeat interval, with a TTL of `lost_after`, and deletes the keys of
   runs that ended: one pipelined round trip per interval for all of a process's runs.
2. Before declaring a run lost, the sweeper reads the keys of the runs whose database
   heartbeat is stale, and the broker epoch key, in one round trip: a run whose key
   exists is alive, however stale its heartbeat column.
3. Redis losing its data loses the keys too; the epoch key (gone with them, then set
   again with a new value) tells the sweeper when that happened, and it waits
   `lost_after` from then, time enough for every live worker to set its keys again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import redis

from taskbeat.names import alive_key, broker_epoch_key


def refresh(
    client: redis.Redis,
    namespace: str,
    alive: Collection[int],
    ended: Collection[int],
    ttl: float,
) -> None:
    """Show `alive` runs alive for `ttl` seconds more and forget `ended` ones, in one
    round trip; raises `redis.RedisError` if Redis did not take it."""
    if not alive and not ended:
        return
    milliseconds = max(int(ttl * 1000), 1)
    with client.pipeline(transaction=False) as pipe:
        for execution_id in alive:
            pipe.set(alive_key(namespace, execution_id), b"1", px=milliseconds)
        if ended:
            pipe.delete(*(alive_key(namespace, execution_id) for execution_id in ended))
        pipe.execute()


@dataclass(frozen=True)
class Evidence:
    """What Redis says about some runs: those shown alive, and its current data epoch
    (None: Redis lost its data and the epoch is not set again yet)."""

    alive: frozenset[int]
    epoch: bytes | None


def read(client: redis.Redis, namespace: str, execution_ids: Sequence[int]) -> Evidence:
    """Which of `execution_ids` a worker shows alive, and Redis's data epoch, in one round
    trip; raises `redis.RedisError` if Redis cannot be asked."""
    with client.pipeline(transaction=False) as pipe:
        pipe.get(broker_epoch_key(namespace))
        if execution_ids:
            pipe.mget([alive_key(namespace, execution_id) for execution_id in execution_ids])
        replies = pipe.execute()
    epoch, found = replies[0], (replies[1] if execution_ids else [])
    shown = frozenset(eid for eid, value in zip(execution_ids, found, strict=True) if value)
    return Evidence(shown, epoch)
