"""A worker's memory over many runs: its pool processes' resident size after a warm-up
and after the last run (no growth means nothing a run leaves behind accumulates)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, func, insert, literal, select, text

from bench.env import BenchEnv, children, rss_kib, wait_until
from bench.seed import add_tasks
from bench.table import Row
from taskbeat.celery_app import make_celery
from taskbeat.models import Execution
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import RedisPublisher
from taskbeat.status import ExecutionStatus, Trigger

WARM_UP = 0.1  # the share of the runs after which the first measure is taken


def worker_memory(env: BenchEnv, runs: int) -> Row:
    env.flush_redis()
    env.reset_database()
    now = datetime.now(UTC)
    add_tasks(env.engine, env.settings, 1, due_at=now + timedelta(days=1), now=now)
    _add_manual_runs(env, runs, now)
    worker = env.taskbeat("memory-worker", "worker", "--concurrency=2", "--hostname=mem@%h")
    publisher = RedisPublisher.from_settings(env.settings, make_celery(env.settings))
    try:
        time.sleep(3.0)  # the worker starts
        warm = int(runs * WARM_UP)
        publisher.publish([RunMessage(n, "bench") for n in range(1, warm + 1)])
        wait_until(lambda: _succeeded(env) >= warm, 600, "the warm-up runs", 0.2)
        after_warm_up = _pool_rss(worker.pid)
        publisher.publish([RunMessage(n, "bench") for n in range(warm + 1, runs + 1)])
        wait_until(lambda: _succeeded(env) >= runs, 3600, "every run", 0.5)
        at_end = _pool_rss(worker.pid)
    finally:
        publisher.close()
        env.stop(worker)
    label = f"worker pool RSS after {runs:,} runs (vs after {warm:,})"
    return Row(
        "memory",
        label,
        at_end,
        after_warm_up,
        "MiB",
        "<=1.1x: no growth",
        at_end <= 1.1 * after_warm_up,
    )


def _add_manual_runs(env: BenchEnv, runs: int, now: datetime) -> None:
    """`runs` queued manual runs of task 1, ids 1..runs, in one statement."""
    number = func.generate_series(1, runs).table_valued("value").render_derived(name="n").c.value
    when = literal(now, Execution.__table__.c.scheduled_for.type)
    row = {
        "task_id": literal(1), "task_name": literal("bench-1"),
        "trigger": literal(Trigger.MANUAL.value), "scheduled_for": when,
        "manual_run": func.cast(number, Integer), "attempt": literal(1), "due_at": when,
        "status": literal(ExecutionStatus.QUEUED.value), "test_mode": literal(False),
        "created_at": when, "enqueued_at": when,
    }  # fmt: skip
    with env.engine.begin() as connection:
        connection.execute(insert(Execution).from_select(list(row), select(*row.values())))
        connection.execute(text("ANALYZE executions"))


def _succeeded(env: BenchEnv) -> int:
    query = select(func.count()).where(Execution.status == ExecutionStatus.SUCCEEDED)
    with env.engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def _pool_rss(pid: int) -> float:
    """The mean resident size of the worker's pool processes, in MiB."""
    sizes = [rss_kib(child) for child in children(pid)]
    return sum(sizes) / len(sizes) / 1024
