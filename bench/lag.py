"""Lag from a slot to its handler's start, at a steady rate.

`tasks` tasks, each `every N seconds` from one anchor, so they all fall due together
as cron schedules do; N makes the rate (100 tasks every 6 s is 1,000 runs a minute).
The figure is the lag each run recorded: started_at - scheduled_for. The baseline is
bare Celery on the same workers' pool: as many no-op messages published at each slot
with `send_task` (what celery beat does), each noting how late it started.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import select

from bench import bare_app
from bench.env import BenchEnv, wait_until
from bench.seed import add_tasks
from bench.table import Row, median, percentile
from taskbeat.celery_app import make_celery
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus

TARGET_MS = 100.0


def lag(
    env: BenchEnv, tasks: int, every: int, duration: float, *, workers: int, concurrency: int
) -> list[Row]:
    bare = _bare_lags(env, tasks, every, duration, workers, concurrency)
    ours = _taskbeat_lags(env, tasks, every, duration, workers, concurrency)
    rate = tasks * 60 / every
    label = f"{rate:,.0f} runs/min ({tasks} tasks every {every}s), {len(ours)} runs"
    p99 = percentile(ours, 0.99)
    return [
        Row("lag", f"p50 slot->start, {label}", median(ours), median(bare), unit="ms"),
        Row(
            "lag",
            f"p99 slot->start, {label}",
            p99,
            percentile(bare, 0.99),
            unit="ms",
            target="<100 ms",
            met=p99 < TARGET_MS,
        ),
    ]


def _taskbeat_lags(
    env: BenchEnv, tasks: int, every: int, duration: float, workers: int, concurrency: int
) -> list[float]:
    env.flush_redis()
    env.reset_database()
    processes = env.workers("lag", workers, concurrency)
    scheduler = env.taskbeat("lag-scheduler", "scheduler")
    try:
        env.wait_for_consumers(workers)
        now = datetime.now(UTC)
        anchor = now.replace(microsecond=0) + timedelta(seconds=2)
        add_tasks(
            env.engine, env.settings, tasks, due_at=anchor, now=now,
            schedule=f"every {every} seconds", start_at=anchor.isoformat(),
        )  # fmt: skip
        env.wake_scheduler()
        time.sleep((anchor - datetime.now(UTC)).total_seconds() + duration)
        return _lags(env, until=anchor + timedelta(seconds=duration))
    finally:
        for process in [scheduler, *processes]:
            env.stop(process)


def _bare_lags(
    env: BenchEnv, tasks: int, every: int, duration: float, workers: int, concurrency: int
) -> list[float]:
    env.flush_redis()
    processes = env.bare_workers(workers, concurrency)
    app = make_celery(env.settings)
    client = redis.Redis.from_url(env.redis_url)
    try:
        due = time.time() + 1.0
        slots = int(duration // every) + 1
        with app.producer_or_acquire() as producer:
            for _ in range(slots):
                time.sleep(max(0.0, due - time.time()))
                for _ in range(tasks):
                    app.send_task(bare_app.LAG, args=[due], queue=bare_app.QUEUE, producer=producer)
                due += every
        expected = slots * tasks
        wait_until(lambda: client.llen(bare_app.LAGS_KEY) >= expected, 60, "bare runs", 0.1)
        return [float(value) for value in client.lrange(bare_app.LAGS_KEY, 0, -1)]
    finally:
        for process in processes:
            env.stop(process)
        client.close()


def _lags(env: BenchEnv, until: datetime) -> list[float]:
    query = select(Execution.scheduled_for, Execution.started_at).where(
        Execution.scheduled_for <= until, Execution.started_at.is_not(None)
    )
    wait_until(lambda: _all_started(env, until), 60, "the last runs to start", 0.2)
    with env.engine.connect() as connection:
        return [
            (started - slot).total_seconds() * 1000 for slot, started in connection.execute(query)
        ]


def _all_started(env: BenchEnv, until: datetime) -> bool:
    waiting = (ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED)
    query = (
        select(Execution.id)
        .where(Execution.scheduled_for <= until, Execution.status.in_(waiting))
        .limit(1)
    )
    with env.engine.connect() as connection:
        return connection.execute(query).first() is None
