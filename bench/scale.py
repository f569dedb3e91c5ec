"""What the number of tasks defined costs when none is due: a scheduler's idle wake-up,
and its peak memory, as the table grows from a thousand tasks to a million."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.env import BenchEnv, rss_kib
from bench.seed import add_tasks
from bench.table import Row, median
from scheduler.dispatch import Dispatcher
from taskbeat.db import make_session_factory
from taskbeat.outbox.publisher import RecordingPublisher

RUN_FOR = 4.0  # seconds a real scheduler runs at each size, some of its tasks due


def scale(env: BenchEnv, sizes: list[int], repeat: int) -> list[Row]:
    env.reset_database()
    now = datetime.now(UTC)
    wakeup_rows: list[Row] = []
    memory_rows: list[Row] = []
    defined = 0
    for size in sizes:
        later = now + timedelta(days=1)
        add_tasks(
            env.engine, env.settings, size - defined, due_at=later, now=now, first=defined + 1
        )
        defined = size
        wakeup_rows.append(_idle_wakeup(env, size, repeat, wakeup_rows))
        memory_rows.append(_scheduler_peak_rss(env, size, memory_rows))
    return wakeup_rows + memory_rows


def _idle_wakeup(env: BenchEnv, size: int, repeat: int, before: list[Row]) -> Row:
    now = datetime.now(UTC)
    sessions = make_session_factory(env.engine)
    dispatcher = Dispatcher(env.settings, sessions, RecordingPublisher(), lambda: now)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        dispatcher.tick()
        timings.append(time.perf_counter() - started)
    cost = median(timings) * 1000
    baseline = before[0].ours if before else cost
    label = f"idle wake-up, {size:,} tasks (median of {repeat})"
    return Row("wake-up", label, cost, baseline, "ms", "<=2x", cost <= 2 * baseline)


def _scheduler_peak_rss(env: BenchEnv, size: int, before: list[Row]) -> Row:
    """A real `taskbeat scheduler` for a few seconds, a thousand of its tasks falling due
    meanwhile; its peak resident memory."""
    env.flush_redis()
    with env.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE tasks SET next_run_at = now() + interval '1 second' WHERE id <= 1000"
        )
    scheduler = env.taskbeat(f"scheduler-{size}", "scheduler")
    time.sleep(RUN_FOR)
    peak = rss_kib(scheduler.pid, "VmHWM") / 1024
    env.stop(scheduler)
    baseline = before[0].ours if before else peak
    label = f"scheduler peak RSS, {size:,} tasks defined"
    return Row(
        "memory", label, peak, baseline, "MiB", "<=1.2x: tasks not loaded", peak <= 1.2 * baseline
    )
