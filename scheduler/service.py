"""The scheduler process's loop: tick, sweep now and then, sleep until the next due time.

A wake-up that fails on the database tells the lost-run sweeper, which then waits
`lost_after` of unbroken database access before declaring any run lost.

Each wake-up is timed and counted on the process's heartbeat (`taskbeat.monitoring.beacons`),
which health and the dashboard read to know a scheduler is alive.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from scheduler.dispatch import Dispatcher
from scheduler.sweeper import LostRunSweeper
from scheduler.wakeup import Wakeup
from taskbeat.clock import Clock
from taskbeat.monitoring.beacons import Beacon
from taskbeat.outbox.publisher import Publisher
from taskbeat.outbox.relay import republish_queued
from taskbeat.settings import Settings

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        publisher: Publisher,
        clock: Clock,
        redis_client: redis.Redis,
        wakeup: Wakeup | None = None,
        beacon: Beacon | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._clock = clock
        self._publisher = publisher
        self.wakeup = wakeup or Wakeup()
        self.beacon = beacon
        self.dispatcher = Dispatcher(settings, session_factory, publisher, clock)
        self.sweeper = LostRunSweeper(settings, session_factory, redis_client, clock)
        self._last_sweep: datetime | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        """Loop until `stop()`; a wake-up in progress finishes first."""
        log.info("scheduler running")
        try:
            while not self._stopping.is_set():
                delay = self.run_once()
                if not self._stopping.is_set():
                    self.wakeup.wait(delay)
        finally:
            if self.beacon is not None:
                self.beacon.clear()
        log.info("scheduler stopped")

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.set()

    def run_once(self) -> float:
        """One wake-up; returns how long to sleep before the next."""
        started = time.monotonic()
        try:
            result = self.dispatcher.tick()
            self.sweeper.database_answered()
            self._sweep_if_due()
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError):
                self.sweeper.database_failed()
            pause = self._settings.scheduler_error_pause
            log.exception("scheduler wake-up failed; trying again in %.1fs", pause)
            return pause
        finally:
            if self.beacon is not None:
                self.beacon.beat(time.monotonic() - started)
        if result.published or result.skipped:
            log.info("published %d runs, skipped %d slots", result.published, result.skipped)
        if result.more:
            return 0.0
        return self._sleep_until(result.next_due)

    def _sleep_until(self, next_due: datetime | None) -> float:
        ceiling = self._settings.scheduler_max_sleep
        if next_due is None:
            return ceiling
        return min(max((next_due - self._clock()).total_seconds(), 0.0), ceiling)

    def _sweep_if_due(self) -> None:
        now = self._clock()
        interval = self._settings.sweep_interval
        if self._last_sweep is None or (now - self._last_sweep).total_seconds() >= interval:
            self._last_sweep = now
            self.sweeper.sweep()
            republish_queued(self._settings, self._sessions, self._publisher, self._clock)
