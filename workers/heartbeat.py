"""Each worker process shows the runs it executes alive, twice over, and stops them
if it cannot.

1. The database heartbeat: one statement per interval stamps `heartbeat_at` of all the
   process's runs (none for a run shorter than the interval: its claim stamped it).
   A run the stamp no longer finds `running` was settled by someone else; it is noted
   in `lost`.
2. The Redis alive keys (`taskbeat.executions.liveness`): one pipelined round trip per
   interval sets a key per run, TTL `lost_after`, and deletes the keys of runs that
   ended since. No key is set when a watch starts (that would be a round trip on the
   hot path): until the first interval, the claim's own stamp covers the run. Its own
   thread, so a database that hangs does not stop it.
3. The fence: that same thread checks, every second, when each run was last shown alive
   by either signal. Past `fence_after` (half of `lost_after` by default), the process
   ends at once (`os._exit`), so the handler cannot go on beside the retry the sweeper
   will add once `lost_after` has passed. A prefork pool child dies (Celery starts
   another, and settles the run: see `workers.pool_deaths`); with the threads or solo
   pool the whole worker ends, for its supervisor to restart.
   - A process that was frozen (SIGSTOP, a stalled VM) wakes with its runs unproven
     for as long as it slept: the keys thread, finding its turn late, checks the fence
     before it sets the keys again (setting them first would prove the runs alive).
     Woken by SIGCONT, a prefork pool process checks it at once, in the main thread
     that runs the handler, before the handler's next step (`workers.app`).
   - A run whose handler has returned is not fenced: its outcome is being written, and
     ending the process would stop nothing.
   - A database stamp that no longer finds a run `running` while its handler still runs
     here means someone settled it (the sweeper declared it lost, and its retry may
     start): the process ends too. Once the handler has returned, its own outcome write
     settles the run, and nothing is left to stop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.db import one_statement
from taskbeat.executions import liveness
from taskbeat.settings import Settings

log = logging.getLogger(__name__)

# The exit code of a process the fence ended (EX_SOFTWARE).
FENCED_EXIT_CODE = 70
FENCE_CHECK_EVERY = 1.0


def end_process(reason: str) -> None:
    """Log why, then end the process without unwinding: no handler code runs after,
    whatever logging raises (a closed pipe; a signal handler's re-entrant write)."""
    try:
        log.critical("%s; ending this worker process now", reason)
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        os._exit(FENCED_EXIT_CODE)


class Heartbeats:
    def __init__(
        self,
        engine: Engine,
        client: redis.Redis,
        settings: Settings,
        clock: Clock,
        fence: Callable[[str], None] = end_process,
    ) -> None:
        self._engine = engine
        self._redis = client
        self._namespace = settings.namespace
        self._interval = settings.heartbeat_interval
        self._ttl = settings.lost_after
        self._fence_after = settings.fence_seconds
        self._clock = clock
        self._fence = fence
        # Each watched run, and when it was last shown alive (in either place).
        self._shown: dict[int, datetime] = {}
        self._ended: set[int] = set()  # alive keys to delete
        self._handler_returned: set[int] = set()  # watched runs whose outcome is written
        self.lost: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._turn_every = min(FENCE_CHECK_EVERY, self._interval)  # the keys thread's turn
        self._last_turn: datetime | None = None
        self._threads: list[threading.Thread] = []

    @contextmanager
    def watching(self, execution_id: int, claimed_at: datetime) -> Iterator[None]:
        """Keep showing `execution_id` alive while the block runs; the claim at
        `claimed_at` stamped it."""
        with self._lock:
            self._shown[execution_id] = claimed_at
            if not self._threads:
                self._start()
        try:
            yield
        finally:
            with self._lock:
                del self._shown[execution_id]
                self._handler_returned.discard(execution_id)
                self._ended.add(execution_id)

    def handler_returned(self, execution_id: int) -> None:
        """The run's handler is done and its outcome is being written: a stamp that finds
        the run settled from now on is no reason to end the process."""
        with self._lock:
            self._handler_returned.add(execution_id)

    def stamp(self) -> None:
        """Stamp every watched run's database heartbeat now."""
        with self._lock:
            watched = list(self._shown)
        if not watched:
            return
        now = self._clock()
        with one_statement(self._engine) as connection:
            running = store.sweeps.touch_heartbeats(connection, watched, now)
        with self._lock:
            settled = set(watched) - running
            self.lost.update(settled)
            handlers_running = sorted(filter(self._handler_running, settled))
        self._shown_alive(running, now)
        if handlers_running:
            ids = ", ".join(str(execution_id) for execution_id in handlers_running)
            self._fence(
                f"fenced: execution {ids} was settled elsewhere (declared lost) while its "
                "handler still ran here; its retry may start"
            )

    def refresh(self) -> None:
        """Set every watched run's alive key now, and delete those of ended runs."""
        with self._lock:
            watched, ended = list(self._shown), self._ended
            self._ended = set()
        now = self._clock()
        try:
            liveness.refresh(self._redis, self._namespace, watched, ended, self._ttl)
        except BaseException:
            with self._lock:
                self._ended |= ended  # deleted next time (they expire anyway)
            raise
        self._shown_alive(watched, now)

    def check_fence(self) -> None:
        """End the process if a watched run whose handler still runs has not been shown
        alive for too long. (Once the handler has returned, ending the process stops
        nothing, and would keep its outcome from being written.)"""
        now = self._clock()
        with self._lock:
            unproven = {
                execution_id: (now - shown).total_seconds()
                for execution_id, shown in self._shown.items()
                if (now - shown).total_seconds() > self._fence_after
                and self._handler_running(execution_id)
            }
        if unproven:
            ids = ", ".join(f"{eid} ({age:.1f}s)" for eid, age in sorted(unproven.items()))
            self._fence(
                f"fenced: execution {ids} not shown alive in the database or in Redis "
                f"for over {self._fence_after:g}s; a retry may start once "
                f"{self._ttl:g}s have passed"
            )

    def _handler_running(self, execution_id: int) -> bool:
        """Watched, and its handler not returned (called holding the lock): a run the
        fence is there to stop."""
        return execution_id in self._shown and execution_id not in self._handler_returned

    def check_fence_on_resume(self) -> None:
        """`check_fence` from a SIGCONT handler: Python runs it in the main thread, the
        one running the handler, before the handler's next line, where the alive-keys
        thread would only get its turn after it. Skipped if that thread was interrupted
        holding the lock (the keys thread checks within a second anyway)."""
        if self._lock.acquire(blocking=False):
            self._lock.release()
            self.check_fence()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=self._interval + 5)

    def _shown_alive(self, execution_ids: list[int] | set[int], when: datetime) -> None:
        with self._lock:
            for execution_id in execution_ids:
                if execution_id in self._shown and self._shown[execution_id] < when:
                    self._shown[execution_id] = when

    def _start(self) -> None:
        for name, target in (("heartbeats", self._stamp_loop), ("alive-keys", self._key_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _stamp_loop(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.stamp()
            except SQLAlchemyError as exc:
                log.warning("heartbeat stamp failed: %s", exc)

    def _key_loop(self) -> None:
        """Check the fence each second; refresh the keys each interval."""
        ticks = max(round(self._interval / FENCE_CHECK_EVERY), 1)
        tick = 0
        while not self._stopping.wait(self._turn_every):
            tick += 1
            self.key_turn(refresh=tick % ticks == 0)

    def key_turn(self, refresh: bool) -> None:
        """One turn of the alive-keys thread: the keys, then the fence; the fence first
        when the turn comes late (the process was frozen: setting the keys first would
        prove its runs alive again)."""
        now = self._clock()
        frozen = (
            self._last_turn is not None
            and (now - self._last_turn).total_seconds() > self._turn_every + FENCE_CHECK_EVERY
        )
        self._last_turn = now
        if frozen:
            self.check_fence()
        if refresh:
            try:
                self.refresh()
            except (redis.RedisError, OSError) as exc:
                log.warning("setting the runs' alive keys failed: %s", exc)
        if not frozen:  # a refresh only ever makes a run's proof newer
            self.check_fence()
