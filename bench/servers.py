"""Private PostgreSQL and Redis servers on spare loopback ports, for the benchmarks and the
fault suite (which stops, restarts and starves them, so it never touches shared servers).

1. `PostgresServer(work_dir)` runs initdb once (as the `postgres` user when we are root,
   since initdb refuses root); `start()` and `stop()` may then be called again and again,
   on the same port and data directory.
2. `database(admin_url)` creates a migrated database on a server and drops it afterwards.
3. `RedisServer(work_dir)` starts redis-server without persistence; `stop()` kills it and
   `start()` brings an empty one back on the same port (a restart that loses the data).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from taskbeat.db import normalize_url
from taskbeat.migrate import upgrade

POSTGRES_BIN = Path(os.environ.get("BENCH_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


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


def _postgres_user() -> str | None:
    """initdb refuses to run as root: as root, run the server as the postgres user."""
    if os.geteuid() != 0:
        return None
    return "postgres"


class PostgresServer:
    """A PostgreSQL server of our own, default settings (fsync and synchronous commit on)."""

    def __init__(self, work_dir: Path, **options: str) -> None:
        self.home, self.port = work_dir / f"postgres-{uuid.uuid4().hex[:6]}", free_port()
        self.home.mkdir()
        self._user = _postgres_user()
        if self._user is not None:
            work_dir.chmod(0o755)
            shutil.chown(self.home, self._user)
        self._data = self.home / "data"
        self._options = {"listen_addresses": "127.0.0.1", **options}
        subprocess.run(
            [str(POSTGRES_BIN / "initdb"), "-D", str(self._data), "-U", "postgres",
             "--auth=trust"],
            check=True, stdout=subprocess.DEVNULL, user=self._user, cwd=self.home,
        )  # fmt: skip

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        settings = " ".join(f"-c {name}={value}" for name, value in self._options.items())
        options = f"-p {self.port} -c unix_socket_directories={self.home} {settings}"
        self._pg_ctl("-o", options, "-l", str(self.home / "log"), "start")

    def stop(self, mode: str = "fast", *, check: bool = True) -> None:
        """`fast` rolls back and disconnects every session; `immediate` is a crash."""
        self._pg_ctl("-m", mode, "stop", check=check)

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        pg_ctl = [str(POSTGRES_BIN / "pg_ctl"), "-D", str(self._data), "-w", "-s"]
        subprocess.run(
            [*pg_ctl, *args], check=check, user=self._user, cwd=self.home,
            stderr=None if check else subprocess.DEVNULL,
        )  # fmt: skip


@contextmanager
def postgres_server(work_dir: Path) -> Iterator[PostgresServer]:
    """A private server, started; stopped afterwards (its files stay in `work_dir`)."""
    server = PostgresServer(work_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop(check=False)  # a test may have stopped it already


@contextmanager
def database(
    admin_url: str, prefix: str = "taskbeat_bench", *, migrated: bool = True
) -> Iterator[str]:
    """A new database (migrated unless told not to) on the server of `admin_url`; its
    URL. Dropped after."""
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()  # the server may be restarted meanwhile: drop on a new connection
    url = normalize_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pings(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisServer:
    """redis-server without persistence: a restart comes back empty."""

    def __init__(self, work_dir: Path, *options: str) -> None:
        """`options`: more redis-server arguments (say, a `--maxmemory-policy`)."""
        self.port, self._dir, self._options = free_port(), work_dir, options
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self._dir), *self._options],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_until(lambda: pings(self.url), 10, f"Redis on port {self.port} to start")

    def freeze(self) -> None:
        """SIGSTOP it: connections stay open and take what is sent; nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill it (SIGKILL: nothing is saved, clients see the connection drop)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


@contextmanager
def redis_server(work_dir: Path, *options: str) -> Iterator[RedisServer]:
    server = RedisServer(work_dir, *options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
