"""What a benchmark runs against, and removes afterwards: its own PostgreSQL server and
its own Redis server, each started on a spare port with default settings (so what other
sessions do on the machine's shared servers does not leak into the figures), and the
processes it starts (taskbeat's and bare Celery's). BENCH_POSTGRES_URL points it at an
existing server instead, where it creates and drops a database of its own."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import Engine, create_engine, text

from bench import bare_app
from taskbeat.db import make_engine, normalize_url
from taskbeat.migrate import upgrade
from taskbeat.names import wakeup_channel
from taskbeat.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POSTGRES_BIN = Path(os.environ.get("BENCH_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
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
        _postgres_server(work_dir) if server is None else nullcontext(server) as admin_url,
        _database(admin_url) as database_url,
        _redis_server(work_dir) as redis_url,
    ):
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
def _postgres_server(work_dir: Path) -> Iterator[str]:
    """A PostgreSQL server of our own, default settings (fsync and synchronous commit on)."""
    home, port = work_dir / "postgres", free_port()
    home.mkdir()
    user = _postgres_user()
    if user is not None:
        work_dir.chmod(0o755)
        shutil.chown(home, user)
    data = home / "data"
    subprocess.run(
        [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True, stdout=subprocess.DEVNULL, user=user, cwd=home,
    )  # fmt: skip
    pg_ctl = [str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-w", "-s"]
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={home}"
    subprocess.run([*pg_ctl, "-o", options, "-l", str(home / "log"), "start"],
                   check=True, user=user, cwd=home)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], check=False, user=user, cwd=home)


def _postgres_user() -> str | None:
    """initdb refuses to run as root: as root, run the server as the postgres user."""
    if os.geteuid() != 0:
        return None
    return "postgres"


@contextmanager
def _database(admin_url: str) -> Iterator[str]:
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"taskbeat_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _redis_server(work_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work_dir)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _pings(url), 10, "the bench's Redis to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `check()` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A process's resident memory (or its peak, with VmHWM), in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise LookupError(f"{field_name} not found for process {pid}")


def children(pid: int) -> list[int]:
    """The process's direct children (a worker's pool processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text_ = (task / "children").read_text().split()
        found.extend(int(child) for child in text_)
    return found
