"""`taskbeat scheduler`: run the dispatch loop until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
from types import FrameType

import click

from scheduler.service import Scheduler
from scheduler.wakeup import WakeupListener
from taskbeat.alerts.sender import AlertSender
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import ProcessKind, SessionLimits, make_engine, make_session_factory
from taskbeat.migrate import require_current
from taskbeat.monitoring.beacons import Beacon
from taskbeat.names import wakeup_channel
from taskbeat.outbox.publisher import REDIS_TIMEOUT, RedisPublisher
from taskbeat.redis_clients import quick_client
from taskbeat.settings import Settings


@click.command("scheduler")
@click.pass_obj
def command(settings: Settings) -> None:
    """Dispatch due runs to Redis. Run as many as you like: they share the work."""
    # Two connections: the dispatch loop and its sweeps run in turn on one, the alert
    # sender (which may wait on a slow webhook) has the other.
    engine = make_engine(
        settings.database_url,
        ProcessKind.SCHEDULER,
        pool_size=2,
        limits=SessionLimits.from_settings(settings),
    )
    require_current(engine)
    sessions = make_session_factory(engine)
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    beacon_redis = quick_client(settings.redis_url, REDIS_TIMEOUT)
    beacon = Beacon(beacon_redis, settings.namespace, settings.scheduler_alive_after, utcnow)
    # The beacon's fail-fast client also reads the runs' alive keys for the sweeper.
    scheduler = Scheduler(settings, sessions, publisher, utcnow, beacon_redis, beacon=beacon)
    alerts = AlertSender(settings, sessions, utcnow)
    listener = WakeupListener(
        settings.redis_url, wakeup_channel(settings.namespace), scheduler.wakeup
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        scheduler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener.start()
    alerts.start()
    try:
        scheduler.run()
    finally:
        alerts.stop()
        listener.stop()
        publisher.close()
        beacon_redis.close()
        engine.dispose()
