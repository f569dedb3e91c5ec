"""What a benchmark runs against, and removes afterwards: its own PostgreSQL server and
its own Redis server, each started on a spare port with default settings (so what other
sessions do on the machine's shared servers does not leak into the figures), and the
processes it starts (taskbeat's and bare Celery's). BENCH_POSTGRES_URL points it at an
existing server instead, where it creates and drops a database of its own. The servers
themselves come from `bench.servers`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import Engine, text

from bench import bare_app
from bench.servers import database, free_port, postgres_server, redis_server, wait_until
from taskbeat.db import make_engine
from taskbeat.names import wakeup_channel
from taskbeat.settings import Settings

# The bench modules take these from here.
__all__ = ["ADMIN_KEY", "BIN", "BenchEnv", "bench_env", "busy_cpu_seconds", "children",
           "free_port", "rss_kib", "wait_until"]  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN_KEY = "bench-admin-key-0123456789"


@dataclass
class BenchEnv:
    database_url: str
    redis_url: str
    work_dir: Path
    engine: Engine
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            namespace="bench",
            default_queue="bench",
            admin_key=ADMIN_KEY,
        )

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment of a taskbeat process against this bench."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}
        return {
            **base,
            "TASKBEAT_DATABASE_URL": self.database_url,
            "TASKBEAT_REDIS_URL": self.redis_url,
            "TASKBEAT_NAMESPACE": "bench",
            "TASKBEAT_DEFAULT_QUEUE": "bench",
            "TASKBEAT_ADMIN_KEY": ADMIN_KEY,
            "TASKBEAT_LOG_LEVEL": "WARNING",
            **extra,
        }

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.work_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def taskbeat(self, name: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        return self.start(name, [str(BIN / "taskbeat"), *args], self.environ(**extra))

    def workers(self, name: str, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
        """`count` `taskbeat worker` processes with a prefork pool of `concurrency`."""
        return [
            self.taskbeat(f"{name}-{n}", "worker", f"-c{concurrency}", f"--hostname={name}{n}@%h")
            for n in range(count)
        ]

    def bare_workers(self, count: int, concurrency: int) -> list[subprocess.Popen[bytes]]:
        """`count` bare Celery workers (`bench.bare_app`), prefork `concurrency`, up and
        polling when this returns."""
        command = [
            *(str(BIN / "celery"), "-A", "bench.bare_app", "worker", "-P", "prefork"),
            *(f"--concurrency={concurrency}", "--queues", bare_app.QUEUE, "--loglevel=WARNING"),
        ]
        environ = {**self.environ(), "BENCH_REDIS_URL": self.redis_url}
        processes = [
            self.start(f"bare-{n}", [*command, f"--hostname=bare{n}@%h"], environ)
            for n in range(count)
        ]
        self.wait_for_consumers(count)
        return processes

    def wait_for_consumers(self, workers: int) -> None:
        """Until `workers` workers are up and polling: Celery workers announce themselves
        to each other over the pidbox fanout, which shows as clients blocked in BRPOP."""
        client = redis.Redis.from_url(self.redis_url)

        def polling() -> bool:
            return int(client.info("clients").get("blocked_clients", 0)) >= workers

        try:
            wait_until(polling, 60, "the workers to start", 0.1)
        finally:
            client.close()
        time.sleep(0.5)  # let the pool processes finish starting too

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process in self.processes:
            self.processes.remove(process)

    def wake_scheduler(self) -> None:
        """What the API does after a change: tasks the bench wrote are looked at now,
        not when the scheduler's sleep ends."""
        client = redis.Redis.from_url(self.redis_url)
        client.publish(wakeup_channel(self.settings.namespace), "wake")
        client.close()

    def flush_redis(self) -> None:
        client = redis.Redis.from_url(self.redis_url)
        client.flushall()
        client.close()

    def reset_database(self) -> None:
        """Empty the tables between benchmarks (the schema stays)."""
        with self.engine.begin() as connection:
            connection.execute(text("TRUNCATE tasks, executions RESTART IDENTITY"))


@contextmanager
def bench_env() -> Iterator[BenchEnv]:
    work_dir = Path(tempfile.mkdtemp(prefix="taskbeat-bench-"))
    server = os.environ.get("BENCH_POSTGRES_URL")
    with (
        _postgres_admin_url(work_dir) if server is None else nullcontext(server) as admin_url,
        database(admin_url) as database_url,
        redis_server(work_dir) as bench_redis,
    ):
        redis_url = bench_redis.url
        engine = make_engine(database_url, pool_size=4)
        env = BenchEnv(database_url, redis_url, work_dir, engine)
        try:
            yield env
        finally:
            for process in list(env.processes):
                env.stop(process)
            engine.dispose()
    shutil.rmtree(work_dir, ignore_errors=True)


@contextmanager
def _postgres_admin_url(work_dir: Path) -> Iterator[str]:
    with postgres_server(work_dir) as server:
        yield server.admin_url


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A process's resident memory (or its peak, with VmHWM), in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise LookupError(f"{field_name} not found for process {pid}")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every core, every process) since boot,
    from /proc/stat: user, nice, system, irq, softirq and steal."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The process's direct children (a worker's pool processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text_ = (task / "children").read_text().split()
        found.extend(int(child) for child in text_)
    return found
