"""The Celery application every process configures the same way."""

from __future__ import annotations

from celery import Celery

from taskbeat.settings import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("taskbeat", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        # Only JSON crosses the wire; a message is an execution id, never a pickle.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # Outcomes are recorded in the database, not a Celery result backend.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        # Ack after the run, and put the message back if the worker process dies; the
        # claim compare-and-set turns any redelivery into a no-op.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A run in flight when the broker connection drops goes on: its outcome is
        # written to SQL, and the redelivered message's claim finds it settled. (Celery 6
        # makes cancelling such runs the default; that would cut healthy runs short on
        # every Redis blip, and leave them to the sweeper as lost.)
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.default_queue,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        # Task events (received, started, succeeded: three Redis publishes a run from the
        # worker's main process, a fifth of a worker's CPU in bench/e2e.py) are Celery's
        # default, off: the history is in SQL. Flower turns them on when it connects.
        # A "sent" event per publish doubles the scheduler's cost per message (measured by
        # bench/dispatch.py); workers' "received" events give Flower the same picture.
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app
