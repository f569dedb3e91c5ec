"""`taskbeat scheduler`: run the dispatch loop until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
from types import FrameType

import click

from scheduler.service import Scheduler
from scheduler.wakeup import WakeupListener
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import ProcessKind, make_engine, make_session_factory
from taskbeat.migrate import require_current
from taskbeat.names import wakeup_channel
from taskbeat.outbox.publisher import RedisPublisher
from taskbeat.settings import Settings


@click.command("scheduler")
@click.pass_obj
def command(settings: Settings) -> None:
    """Dispatch due runs to Redis. Run as many as you like: they share the work."""
    # One connection does it all: the dispatch loop and its sweeps run in turn.
    engine = make_engine(settings.database_url, ProcessKind.SCHEDULER, pool_size=1)
    require_current(engine)
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    scheduler = Scheduler(settings, make_session_factory(engine), publisher, utcnow)
    listener = WakeupListener(
        settings.redis_url, wakeup_channel(settings.namespace), scheduler.wakeup
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        scheduler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener.start()
    try:
        scheduler.run()
    finally:
        listener.stop()
        publisher.close()
        engine.dispose()
