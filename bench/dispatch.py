"""Scheduler wake-up cost against table size, and the cost of dispatching a burst.

Prints figures as ratios against baselines measured in the same run:
  1. an idle wake-up (nothing due) with --tasks tasks defined, against one with 1,000;
  2. dispatching --due runs that fall due at once (database + Redis), against publishing
     the same number of messages with bare Celery on the same Redis.

Needs PostgreSQL and Redis (TEST_POSTGRES_URL, TEST_REDIS_URL, as the tests use); it
creates its own database and uses Redis db 15, and removes both afterwards.

    .venv/bin/python bench/dispatch.py --tasks 1000000 --due 10000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.dispatch import Dispatcher
from taskbeat.celery_app import make_celery
from taskbeat.db import make_engine, make_session_factory
from taskbeat.names import RUN_EXECUTION
from taskbeat.outbox.publisher import RecordingPublisher, RedisPublisher
from taskbeat.settings import Settings
from tests.services import REDIS_URL, postgres_database

BENCH_REDIS_DB = 15
NOW = datetime.now(UTC)
INSERT_TASKS = """
INSERT INTO tasks (name, description, handler, params, schedule, timezone, recurring,
    enabled, state, next_run_at, run_count, consecutive_failures, retry_count, max_retries,
    retry_delay, retry_backoff, retry_backoff_max, retry_jitter, overlap, misfire,
    misfire_grace, jitter, queue, priority, tags, created_at, updated_at, version)
SELECT 'bench-' || n, '', 'echo', '{}', 'every 1 hours', 'UTC', true, true, 'active',
    :next_run_at, 0, 0, 0, 0, 60, 2, 3600, 0, 'skip', 'run_once', 60, 0, 'bench', 0, '[]',
    :now, :now, 1
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
"""


def add_tasks(engine: Engine, first: int, last: int, next_run_at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(INSERT_TASKS),
            {"first": first, "last": last, "next_run_at": next_run_at, "now": NOW},
        )
        connection.execute(text("ANALYZE tasks"))


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def idle_wakeups(engine: Engine, settings: Settings, tasks: int) -> None:
    dispatcher = Dispatcher(
        settings, make_session_factory(engine), RecordingPublisher(), lambda: NOW
    )
    future = NOW + timedelta(days=1)
    add_tasks(engine, 1, 1000, future)
    small = median_seconds(dispatcher.tick, 200)
    print(f"  building {tasks:,} tasks ...", flush=True)
    add_tasks(engine, 1001, tasks, future)
    large = median_seconds(dispatcher.tick, 200)
    print(f"idle wake-up, 1,000 tasks:      {small * 1000:8.3f} ms (median of 200)")
    print(f"idle wake-up, {tasks:,} tasks: {large * 1000:8.3f} ms (median of 200)")
    print(f"  ratio {tasks:,} / 1,000:      {large / small:8.2f}x")


def burst(engine: Engine, settings: Settings, due: int, redis_url: str) -> None:
    celery = make_celery(settings)
    payload = list(range(due))
    started = time.perf_counter()
    with celery.producer_or_acquire() as producer:
        for number in payload:
            celery.send_task(RUN_EXECUTION, args=[number], queue="bench", producer=producer)
    bare = time.perf_counter() - started
    redis.Redis.from_url(redis_url).flushdb()

    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tasks SET next_run_at = :due WHERE id <= :count"),
            {"due": NOW - timedelta(seconds=1), "count": due},
        )
    publisher = RedisPublisher.from_settings(settings, celery)
    dispatcher = Dispatcher(settings, make_session_factory(engine), publisher, lambda: NOW)
    started = time.perf_counter()
    published = 0
    while True:
        result = dispatcher.tick()
        published += result.published
        if not result.more:
            break
    ours = time.perf_counter() - started
    publisher.close()
    assert published == due, (published, due)
    print(f"bare Celery publish of {due:,} messages:     {bare:6.2f} s")
    print(f"taskbeat dispatch of {due:,} due runs:       {ours:6.2f} s  (write, publish, mark)")
    print(f"  ratio taskbeat / bare Celery:          {ours / bare:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args()
    if args.due > args.tasks:
        parser.error("--due cannot exceed --tasks: the burst is made of existing tasks")
    redis_url = f"{REDIS_URL.rstrip('/')}/{BENCH_REDIS_DB}"
    with postgres_database() as database_url:
        settings = Settings(database_url=database_url, redis_url=redis_url, namespace="bench")
        engine = make_engine(database_url)
        try:
            idle_wakeups(engine, settings, args.tasks)
            burst(engine, settings, args.due, redis_url)
        finally:
            engine.dispose()
            redis.Redis.from_url(redis_url).flushdb()


if __name__ == "__main__":
    main()
