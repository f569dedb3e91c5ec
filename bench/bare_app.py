"""The bare-Celery baseline: taskbeat's own Celery configuration, with a task that does
nothing and records nothing, and one that notes only how late it started. `celery -A
bench.bare_app worker` runs it."""

from __future__ import annotations

import functools
import os
import time

import redis

from taskbeat.celery_app import make_celery
from taskbeat.settings import Settings

QUEUE = "bare"
NOOP = "bench.noop"
LAG = "bench.lag"
LAGS_KEY = "bare:lags"  # each run's lag in ms, from the time its message says it fell due

app = make_celery(Settings(redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")))


@app.task(name=NOOP, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def noop(number: int) -> None:
    """The baseline's handler: the cost of Celery itself, nothing else."""


@app.task(name=LAG, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def note_lag(due: float) -> None:
    """The lag baseline's handler: how late it started against when it fell due."""
    started = time.time()
    _redis().rpush(LAGS_KEY, (started - due) * 1000)


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
