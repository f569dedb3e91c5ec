"""Dashboard, stats and metrics with 1,000,000 executions on PostgreSQL: time per page.

    python -m bench.dashboard [--executions 1000000] [--tasks 1000] [--days 30]

Seeds a new database (dropped after) with `--tasks` tasks and `--executions` finished
runs spread evenly over `--days` days, then times each page through the app, signed in,
with the caches defeated (the overview's few-second cache is what a second viewer gets;
the numbers here are the cold cost). Redis is not needed: its parts answer "away" fast.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from sqlalchemy import text

from api.app import create_app
from api.services import EXTENSION
from taskbeat.apikeys import create_key
from taskbeat.db import make_engine, make_session_factory
from taskbeat.settings import Settings
from taskbeat.status import ApiRole
from tests.services import postgres_database

PAGES = [
    "/",
    "/tasks",
    "/tasks?sort=-next_run_at&status=active",
    "/tasks/t7",
    "/executions",
    "/executions?status=failed",
    "/executions/feed?after=999990",
    "/api/v1/stats?window=3600",
    "/api/v1/stats?window=86400",
    "/metrics",
]


def seed(url: str, tasks: int, executions: int, days: int) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    spacing = days * 86400 / executions
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tasks (name, description, handler, params, schedule, timezone,"
                " recurring, enabled, state, next_run_at, run_count, manual_runs,"
                " consecutive_failures, retry_count, max_retries, retry_delay, retry_backoff,"
                " retry_backoff_max, retry_jitter, overlap, misfire, misfire_grace, jitter,"
                " queue, priority, tags, created_at, updated_at, version, pause_on_failure)"
                " SELECT 't' || n, '', 'echo', '{}', 'every 60 seconds', 'UTC', true, true,"
                " CASE WHEN n % 50 = 0 THEN 'failed' ELSE 'active' END,"
                " CAST(:now AS timestamptz) + (n % 60) * interval '1 second', 0, 0, 0, 0, 0, 60,"
                " 2, 3600, 0, 'skip', 'run_once', 60, 0, 'taskbeat', 0, '[]',"
                " CAST(:now AS timestamptz) - interval '40 days', CAST(:now AS timestamptz), 1,"
                " false FROM generate_series(1, :tasks) AS n"
            ),
            {"now": now, "tasks": tasks},
        )
        connection.execute(
            text(
                "INSERT INTO executions (task_id, task_name, trigger, scheduled_for, manual_run,"
                " attempt, due_at, status, test_mode, created_at, started_at, finished_at,"
                " duration, worker) SELECT 1 + n % :tasks, 't' || (1 + n % :tasks), 'schedule',"
                " at, 0, 1, at, CASE WHEN n % 13 = 0 THEN 'failed' ELSE 'succeeded' END, false,"
                " at, at + interval '20 milliseconds', at + interval '120 milliseconds', 0.1,"
                " 'bench@host:1' FROM (SELECT n, CAST(:now AS timestamptz)"
                " - n * :spacing * interval '1 second' AS at"
                " FROM generate_series(1, :executions) AS n) AS rows"
            ),
            {"now": now, "tasks": tasks, "executions": executions, "spacing": spacing},
        )
        connection.execute(text("ANALYZE"))
    engine.dispose()


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
    with postgres_database() as url:
        started = time.perf_counter()
        seed(url, args.tasks, args.executions, args.days)
        print(f"seeded {args.executions:,} executions of {args.tasks:,} tasks over "
              f"{args.days} days in {time.perf_counter() - started:.0f} s")  # fmt: skip
        measure(url, args.rounds)


if __name__ == "__main__":
    main()
