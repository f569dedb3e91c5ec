"""No-op runs due at once, drained end to end, against bare Celery draining as many.

taskbeat: `count` tasks (recurring, or one-time) fall due at one instant, with a scheduler and the
workers already running; the figure is runs per second from that instant until the last
run's outcome is recorded. Bare Celery: the same workers' pool and concurrency running
a no-op task from the same kind of Redis; from the first publish until the queue and its
unacked set are empty.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import func, select

from bench import bare_app
from bench.env import BenchEnv, wait_until
from bench.seed import add_tasks
from bench.table import Row
from taskbeat.celery_app import make_celery
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus

LEAD = timedelta(seconds=3)  # time for the tasks to be written before they fall due


def e2e(env: BenchEnv, count: int, *, workers: int, concurrency: int, once: bool = False) -> Row:
    kind = "one-time tasks" if once else "recurring tasks"
    label = f"{count:,} no-op runs ({kind}), {workers} worker x prefork {concurrency}"
    bare = _bare_celery_rate(env, count, workers, concurrency)
    ours = _taskbeat_rate(env, count, workers, concurrency, once)
    ratio = ours / bare
    return Row("e2e", label, ours, bare, "runs/s", ">=0.5x (moonshot 0.7x)", ratio >= 0.5)


def _bare_celery_rate(env: BenchEnv, count: int, workers: int, concurrency: int) -> float:
    env.flush_redis()
    processes = env.bare_workers(workers, concurrency)
    client = redis.Redis.from_url(env.redis_url)
    app = make_celery(env.settings)
    try:
        started = time.perf_counter()
        with app.producer_or_acquire() as producer, producer.batch(500):
            for number in range(count):
                app.send_task(bare_app.NOOP, args=[number], queue=bare_app.QUEUE, producer=producer)
        wait_until(lambda: _drained(client), 600, "bare Celery to drain its queue", 0.02)
        return count / (time.perf_counter() - started)
    finally:
        for process in processes:
            env.stop(process)
        client.close()


def _taskbeat_rate(env: BenchEnv, count: int, workers: int, concurrency: int, once: bool) -> float:
    """Recurring tasks (hourly, all due at one instant) run and stay active; one-time
    tasks (due at that instant) also complete: their success writes the task's state."""
    env.flush_redis()
    env.reset_database()
    scheduler = env.taskbeat("scheduler", "scheduler")
    processes = env.workers("e2e", workers, concurrency)
    try:
        env.wait_for_consumers(workers)
        now = datetime.now(UTC)
        due = now + LEAD
        add_tasks(
            env.engine, env.settings, count, due_at=due, now=now, handler="noop",
            schedule=due.isoformat() if once else "every 1 hours",
        )  # fmt: skip
        env.wake_scheduler()
        wait_until(lambda: _succeeded(env) >= count, 900, "taskbeat to run every slot", 0.25)
        with env.engine.connect() as connection:
            last = connection.scalar(select(func.max(Execution.finished_at)))
        assert last is not None
        return count / (last - due).total_seconds()
    finally:
        for process in [*processes, scheduler]:
            env.stop(process)


def _succeeded(env: BenchEnv) -> int:
    query = select(func.count()).where(Execution.status == ExecutionStatus.SUCCEEDED)
    with env.engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def _drained(client: redis.Redis) -> bool:
    queued = sum(int(client.llen(key)) for key in client.keys(f"{bare_app.QUEUE}*"))
    return queued == 0 and int(client.hlen("unacked")) == 0
