"""Dashboard, stats and metrics with 1,000,000 executions on PostgreSQL: time per page.

    python -m bench.dashboard [--executions 1000000] [--tasks 1000] [--days 30]

Seeds the bench's own database (`bench/seed.py`, removed after) with `--tasks` tasks
and `--executions` finished runs spread evenly over `--days` days, then times each page
through the app, signed in, with the caches defeated (the overview's few-second cache is
what a second viewer gets; the numbers here are the cold cost). The bench's own Redis
runs, but the app is pointed at none: its Redis parts answer "away" fast.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from api.app import create_app
from api.services import EXTENSION
from bench.env import BenchEnv, bench_env
from bench.seed import add_history, add_tasks
from taskbeat.apikeys import create_key
from taskbeat.db import make_session_factory
from taskbeat.models import Task
from taskbeat.settings import Settings
from taskbeat.status import ApiRole
from taskbeat.tasks.state import TaskState

PAGES = [
    "/",
    "/tasks",
    "/tasks?sort=-next_run_at&status=active",
    "/tasks/bench-7",
    "/executions",
    "/executions?status=failed",
    "/executions/feed?after=999990",
    "/api/v1/stats?window=3600",
    "/api/v1/stats?window=86400",
    "/metrics",
]


def seed(env: BenchEnv, tasks: int, executions: int, days: int) -> None:
    """`tasks` tasks (one in fifty failed) and `executions` finished runs over `days`."""
    now = datetime.now(UTC)
    add_tasks(env.engine, env.settings, tasks, due_at=now + timedelta(minutes=1), now=now,
              schedule="every 60 seconds")  # fmt: skip
    spacing = timedelta(days=days) / executions
    add_history(env.engine, executions, tasks=tasks, ending=now, spacing=spacing)
    with env.engine.begin() as connection:
        connection.execute(update(Task).where(Task.id % 50 == 0).values(state=TaskState.FAILED))


def measure(url: str, rounds: int) -> None:
    settings = Settings(database_url=url, redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    sessions = make_session_factory(app.extensions[EXTENSION].engine)
    with sessions.begin() as session:
        _, key = create_key(session, name="bench", role=ApiRole.VIEWER, now=datetime.now(UTC))
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/sign-in", data={"key": key, "csrf_token": token})
    monitor = app.extensions["taskbeat.monitor"]
    print(f"{'page':45} {'p50 ms':>8} {'max ms':>8}")
    for path in PAGES:
        times = []
        for _ in range(rounds):
            monitor._cache.clear()  # the cold cost, every time
            started = time.perf_counter()
            response = client.get(path, headers={"Authorization": f"Bearer {key}"})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{path:45} {statistics.median(times):8.1f} {max(times):8.1f}")
    app.extensions[EXTENSION].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with bench_env() as env:
        started = time.perf_counter()
        seed(env, args.tasks, args.executions, args.days)
        print(f"seeded {args.executions:,} executions of {args.tasks:,} tasks over "
              f"{args.days} days in {time.perf_counter() - started:.0f} s")  # fmt: skip
        measure(env.database_url, args.rounds)


if __name__ == "__main__":
    main()
