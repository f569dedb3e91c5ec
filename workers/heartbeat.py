"""One thread per worker process stamps the heartbeat of every run it is executing, so
the sweeper can tell a live run from one whose worker died.

One statement per interval for all of the process's runs, and none for a run shorter
than the interval (its claim stamped it already). A run the stamp no longer finds
`running` was settled by someone else (the sweeper declared it lost): it is noted in
`lost`, so the worker knows before it records anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.db import one_statement

log = logging.getLogger(__name__)


class Heartbeats:
    def __init__(self, engine: Engine, interval: float, clock: Clock) -> None:
        self._engine = engine
        self._interval = interval
        self._clock = clock
        self._running: set[int] = set()
        self.lost: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, execution_id: int) -> Iterator[None]:
        """Keep stamping `execution_id` while the block runs."""
        with self._lock:
            self._running.add(execution_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(execution_id)

    def stamp(self) -> None:
        """Stamp every watched run now (the thread calls this each interval)."""
        with self._lock:
            watched = list(self._running)
        if not watched:
            return
        with one_statement(self._engine) as connection:
            alive = store.sweeps.touch_heartbeats(connection, watched, self._clock())
        with self._lock:
            self.lost.update(set(watched) - alive)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.stamp()
            except SQLAlchemyError as exc:
                log.warning("heartbeat stamp failed: %s", exc)
