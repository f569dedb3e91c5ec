"""History pages with a long history, served by `taskbeat api` as in production.

The latency of each page, from a client on the same machine, against the latency of
`/health` (the HTTP stack and a database round trip, nothing else) in the same run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests

from bench.env import ADMIN_KEY, BenchEnv, free_port, wait_until
from bench.seed import add_history, add_tasks
from bench.table import Row, median, percentile

TARGET_MS = 20.0
PAGES = {
    "/executions": "/executions?limit=50",
    "/executions?status=": "/executions?status=failed&limit=50",
    "/executions?task=": "/executions?task=bench-7&limit=50",
    "/tasks": "/tasks?limit=50",
}


def api(env: BenchEnv, *, executions: int, tasks: int, requests_each: int) -> list[Row]:
    env.reset_database()
    now = datetime.now(UTC)
    add_tasks(env.engine, env.settings, tasks, due_at=now.replace(year=now.year + 1), now=now)
    add_history(env.engine, executions, tasks=tasks, ending=now)
    port = free_port()
    server = env.taskbeat("api", "api", "--port", str(port), "--workers", "2", "--threads", "4")
    base = f"http://127.0.0.1:{port}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    try:
        wait_until(lambda: _answers(session, f"{base}/health"), 60, "the API to start", 0.2)
        floor = _latencies(session, f"{base}/health", requests_each)
        rows = []
        for name, path in PAGES.items():
            timings = _latencies(session, base + path, requests_each)
            p50, p99 = median(timings), percentile(timings, 0.99)
            label = f"{name}, {executions:,} executions (vs /health)"
            rows.append(Row("api", f"p50 {label}", p50, median(floor), "ms"))
            met = p99 < TARGET_MS
            rows.append(
                Row("api", f"p99 {label}", p99, percentile(floor, 0.99), "ms", "<20 ms", met)
            )
        return rows
    finally:
        session.close()
        env.stop(server)


def _answers(session: requests.Session, url: str) -> bool:
    try:
        return session.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _latencies(session: requests.Session, url: str, count: int) -> list[float]:
    for _ in range(5):  # warm the connections, caches and prepared statements
        session.get(url, timeout=10).raise_for_status()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings
