"""No-op runs due at once, drained end to end, against bare Celery draining as many.

taskbeat: `count` tasks (recurring, or one-time) fall due at one instant, with a scheduler and the
workers already running; the figure is runs per second from that instant until the last
run's outcome is recorded. Bare Celery: the same workers' pool and concurrency running
a no-op task from the same kind of Redis; from the first publish until the queue and its
unacked set are empty.

This VM's speed drifts by a third and more over minutes, so the two alternate, `rounds`
times each, and each side's best round is kept. With each rate goes the machine's CPU
per run in that round (all processes: workers, scheduler, PostgreSQL, Redis, the bench's
own publishing), which is what the rates come down to once the cores are busy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import func, select

from bench import bare_app
from bench.env import BenchEnv, busy_cpu_seconds, wait_until
from bench.seed import add_tasks
from bench.table import Row
from taskbeat.celery_app import make_celery
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus

LEAD = timedelta(seconds=3)  # time for the tasks to be written before they fall due


@dataclass(frozen=True)
class Drain:
    rate: float  # runs per second
    cpu: float  # machine CPU seconds per run, while draining


def e2e(
    env: BenchEnv,
    count: int,
    *,
    workers: int,
    concurrency: int,
    once: bool = False,
    rounds: int = 2,
) -> list[Row]:
    kind = "one-time tasks" if once else "recurring tasks"
    setup = f"{workers} worker x prefork {concurrency}"
    bares: list[Drain] = []
    ours: list[Drain] = []
    for _ in range(rounds):
        bares.append(_bare_celery_drain(env, count, workers, concurrency))
        ours.append(_taskbeat_drain(env, count, workers, concurrency, once))
    bare = max(bares, key=lambda drain: drain.rate)
    best = max(ours, key=lambda drain: drain.rate)
    ratio = best.rate / bare.rate
    label = f"{count:,} no-op runs ({kind}), {setup}, best of {rounds}"
    return [
        Row("e2e", label, best.rate, bare.rate, "runs/s", ">=0.5x (moonshot 0.7x)", ratio >= 0.5),
        Row("e2e", f"  CPU per run, {kind}, {setup}", best.cpu * 1e3, bare.cpu * 1e3, "ms"),
    ]


def _bare_celery_drain(env: BenchEnv, count: int, workers: int, concurrency: int) -> Drain:
    env.flush_redis()
    processes = env.bare_workers(workers, concurrency)
    client = redis.Redis.from_url(env.redis_url)
    app = make_celery(env.settings)
    try:
        started, cpu = time.perf_counter(), busy_cpu_seconds()
        with app.producer_or_acquire() as producer, producer.batch(500):
            for number in range(count):
                app.send_task(bare_app.NOOP, args=[number], queue=bare_app.QUEUE, producer=producer)
        wait_until(lambda: _drained(client), 600, "bare Celery to drain its queue", 0.02)
        elapsed, used = time.perf_counter() - started, busy_cpu_seconds() - cpu
        return Drain(count / elapsed, used / count)
    finally:
        for process in processes:
            env.stop(process)
        client.close()


def _taskbeat_drain(env: BenchEnv, count: int, workers: int, concurrency: int, once: bool) -> Drain:
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
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        cpu = busy_cpu_seconds()  # nothing runs before the slot
        wait_until(lambda: _succeeded(env) >= count, 900, "taskbeat to run every slot", 0.25)
        used = busy_cpu_seconds() - cpu
        with env.engine.connect() as connection:
            last = connection.scalar(select(func.max(Execution.finished_at)))
        assert last is not None
        return Drain(count / (last - due).total_seconds(), used / count)
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
