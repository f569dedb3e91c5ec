"""`python -m bench [--smoke] [--only SECTION,...]`: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import platform
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bench.api import api
from bench.dispatch import dispatch
from bench.e2e import e2e
from bench.env import BenchEnv, bench_env
from bench.lag import lag
from bench.memory import worker_memory
from bench.scale import scale
from bench.table import Row, render


@dataclass(frozen=True)
class Sizes:
    e2e_runs: int
    due: int
    lag_tasks: int
    lag_every: int
    lag_seconds: float
    history: int
    requests: int
    worker_runs: int
    table_sizes: tuple[int, ...]
    wakeups: int
    rounds: int  # end-to-end: bare Celery and taskbeat alternate, best round kept


FULL = Sizes(
    e2e_runs=20_000, due=10_000, lag_tasks=100, lag_every=6, lag_seconds=60.0,
    history=1_000_000, requests=300, worker_runs=100_000,
    table_sizes=(1_000, 100_000, 1_000_000), wakeups=200, rounds=2,
)  # fmt: skip
SMOKE = Sizes(
    e2e_runs=100, due=100, lag_tasks=10, lag_every=2, lag_seconds=4.0,
    history=2_000, requests=10, worker_runs=100, table_sizes=(100, 1_000), wakeups=5, rounds=1,
)  # fmt: skip


def sections(sizes: Sizes) -> dict[str, Callable[[BenchEnv], list[Row]]]:
    return {
        "e2e": lambda env: [
            *e2e(env, sizes.e2e_runs, workers=1, concurrency=2, rounds=sizes.rounds),
            *e2e(env, sizes.e2e_runs, workers=2, concurrency=2, rounds=sizes.rounds),
            *e2e(env, sizes.e2e_runs, workers=1, concurrency=2, once=True, rounds=sizes.rounds),
        ],
        "dispatch": lambda env: dispatch(env, sizes.due),
        "lag": lambda env: lag(
            env, sizes.lag_tasks, sizes.lag_every, sizes.lag_seconds, workers=2, concurrency=2
        ),
        "api": lambda env: api(
            env, executions=sizes.history, tasks=1_000, requests_each=sizes.requests
        ),
        "memory": lambda env: [worker_memory(env, sizes.worker_runs)],
        "scale": lambda env: scale(env, list(sizes.table_sizes), sizes.wakeups),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code runs")
    parser.add_argument("--only", default="", help="comma-separated sections to run")
    parser.add_argument("--runs", type=int, help="end-to-end runs (default: 20,000)")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    if args.runs:
        sizes = replace(sizes, e2e_runs=args.runs)
    chosen = sections(sizes)
    wanted = [name for name in args.only.split(",") if name] or list(chosen)
    unknown = set(wanted) - set(chosen)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(chosen)}")
    # A stopped bench still removes its servers and processes: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rows: list[Row] = []
    with bench_env() as env:
        for name in wanted:
            started = time.monotonic()
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            rows.extend(chosen[name](env))
            print(f"bench: {name} took {time.monotonic() - started:.0f}s", file=sys.stderr)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"taskbeat bench, {when}, {platform.node()}, Python {platform.python_version()}")
    print(render(rows))


if __name__ == "__main__":
    main()
