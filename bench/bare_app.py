"""The bare-Celery baseline: taskbeat's own Celery configuration, with a task that does
nothing and records nothing. `celery -A bench.bare_app worker` runs it."""

from __future__ import annotations

import os

from taskbeat.celery_app import make_celery
from taskbeat.settings import Settings

QUEUE = "bare"
NOOP = "bench.noop"

app = make_celery(Settings(redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")))


@app.task(name=NOOP, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def noop(number: int) -> None:
    """The baseline's handler: the cost of Celery itself, nothing else."""
