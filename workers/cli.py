"""`taskbeat worker`: a Celery worker; options after the command go to Celery."""

from __future__ import annotations

import click

from taskbeat.db import make_engine
from taskbeat.migrate import require_current
from taskbeat.outbox.publisher import REDIS_TIMEOUT
from taskbeat.redis_clients import quick_client
from taskbeat.settings import Settings
from workers.app import create_worker_app
from workers.startup import check_redis_keeps_queues, warn_if_visibility_timeout_short


@click.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def command(settings: Settings, celery_args: tuple[str, ...]) -> None:
    """Run a worker. Celery worker options pass through, e.g. --concurrency 4 -Q reports."""
    if "--help" not in celery_args:
        check_before_start(settings)
    app = create_worker_app(settings)
    # In JSON, Celery's start-up banner (printed, not logged) would be the one line that is
    # not an object: --quiet leaves it out.
    quiet = ["--quiet"] if settings.log_format == "json" else []
    argv = [*quiet, "worker", f"--loglevel={settings.log_level}", *celery_args]
    if not any(arg in ("-Q", "--queues") or arg.startswith("--queues=") for arg in celery_args):
        argv += ["--queues", settings.default_queue]
    app.worker_main(argv=argv)


def check_before_start(settings: Settings) -> None:
    """Refuse to start on a database or a Redis that would break a guarantee."""
    engine = make_engine(settings.database_url, pool_size=1)
    client = quick_client(settings.redis_url, REDIS_TIMEOUT)
    try:
        require_current(engine)
        check_redis_keeps_queues(client)
        warn_if_visibility_timeout_short(settings, engine)
    finally:
        client.close()
        engine.dispose()
