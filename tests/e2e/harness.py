"""Real processes, real HTTP: start them, talk to them, poll with hard timeouts."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Service:
    """A process started in its own session, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """Wait for the process to end by itself; its exit code."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
        """Signal the process and wait for it; kill its whole session if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s") from None
        finally:
            self._log.close()
        return code


class Api:
    """A client of the running API, with an API key."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base_url + path, timeout=10, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.request("GET", path, expect, **kwargs)

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        return self.request("POST", path, expect, json=body)


def dev_env() -> dict[str, str]:
    """The environment of a fresh shell: no TASKBEAT_* settings at all."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKBEAT_")}


def banner(service: Service) -> tuple[str, str, int]:
    """The API URL, admin key and Redis port that `taskbeat dev` printed."""

    def printed() -> re.Match[str] | None:
        return re.search(
            r"API:\s+(\S+)\n\s+Admin key:\s+(\S+)\n.*\n\s+Redis:\s+redis://127\.0\.0\.1:(\d+)/0",
            service.log(),
        )

    match = wait_until(printed, 90, "taskbeat dev to print its banner")
    return match.group(1), match.group(2), int(match.group(3))
