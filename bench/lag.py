"""Lag from a slot to its handler's start, at a steady rate.

`tasks` tasks, each `every N seconds` from one anchor, so they all fall due together
as cron schedules do; N makes the rate (100 tasks every 6 s is 1,000 runs a minute).
The figure is the lag each run recorded: started_at - scheduled_for.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bench.env import BenchEnv, wait_until
from bench.seed import add_tasks
from bench.table import Row, median, percentile
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus

TARGET_MS = 100.0


def lag(
    env: BenchEnv, tasks: int, every: int, duration: float, *, workers: int, concurrency: int
) -> list[Row]:
    env.flush_redis()
    env.reset_database()
    processes = env.workers("lag", workers, concurrency)
    scheduler = env.taskbeat("lag-scheduler", "scheduler")
    try:
        time.sleep(3.0)  # the workers start
        now = datetime.now(UTC)
        anchor = now.replace(microsecond=0) + timedelta(seconds=2)
        add_tasks(
            env.engine, env.settings, tasks, due_at=anchor, now=now,
            schedule=f"every {every} seconds", start_at=anchor.isoformat(),
        )  # fmt: skip
        env.wake_scheduler()
        time.sleep((anchor - datetime.now(UTC)).total_seconds() + duration)
        lags = _lags(env, until=anchor + timedelta(seconds=duration))
    finally:
        for process in [scheduler, *processes]:
            env.stop(process)
    rate = tasks * 60 / every
    label = f"{rate:,.0f} runs/min ({tasks} tasks every {every}s), {len(lags)} runs"
    p50, p99 = median(lags), percentile(lags, 0.99)
    return [
        Row("lag", f"p50 slot->start, {label}", p50, unit="ms"),
        Row(
            "lag",
            f"p99 slot->start, {label}",
            p99,
            unit="ms",
            target="<100 ms",
            met=p99 < TARGET_MS,
        ),
    ]


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
