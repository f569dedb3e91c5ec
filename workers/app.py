"""The Celery app a worker runs: our single task, bound to a per-process runtime."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject
from celery.signals import worker_process_shutdown, worker_shutdown
from sqlalchemy import Engine

from handlers import load_registry
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.names import RUN_EXECUTION
from taskbeat.publisher import CeleryPublisher
from taskbeat.settings import Settings
from workers.execution import DatabaseUnavailable, WorkerRuntime, run_execution

log = logging.getLogger(__name__)
REQUEUE_PAUSE = 1.0  # seconds a worker waits before handing back a message it cannot claim


class RuntimeHolder:
    """Builds the runtime lazily in each worker process: an engine (and its pool) must
    not cross a fork, so each prefork child opens its own."""

    def __init__(self, settings: Settings, registry: HandlerRegistry, celery: Celery) -> None:
        self._settings = settings
        self._registry = registry
        self._celery = celery
        self._opened: tuple[int, Engine, CeleryPublisher, WorkerRuntime] | None = None

    def get(self) -> WorkerRuntime:
        if self._opened is None or self._opened[0] != os.getpid():
            engine = make_engine(self._settings.database_url)
            publisher = CeleryPublisher.from_settings(self._settings, self._celery)
            runtime = WorkerRuntime(
                settings=self._settings,
                session_factory=make_session_factory(engine),
                registry=self._registry,
                publisher=publisher,
                clock=utcnow,
            )
            self._opened = (os.getpid(), engine, publisher, runtime)
        return self._opened[3]

    def close(self, **_: Any) -> None:
        """Give back the connections this process opened (on worker shutdown)."""
        if self._opened is not None and self._opened[0] == os.getpid():
            self._opened[1].dispose()
            self._opened[2].close()
        self._opened = None


def create_worker_app(settings: Settings, registry: HandlerRegistry | None = None) -> Celery:
    app = make_celery(settings)
    holder = RuntimeHolder(settings, registry or load_registry(settings), app)

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_EXECUTION, bind=True, acks_late=True, reject_on_worker_lost=True, shared=False
    )
    def run_execution_task(self: Task, execution_id: Any) -> str | None:
        if not isinstance(execution_id, int):
            log.error("dropped a message whose execution id is %r, not an integer", execution_id)
            return None
        worker = f"{self.request.hostname or 'worker'}:{os.getpid()}"
        try:
            status = run_execution(holder.get(), execution_id, worker)
        except DatabaseUnavailable as exc:
            log.warning("%s; the message goes back to the queue", exc)
            time.sleep(REQUEUE_PAUSE)  # do not spin on a database that is down
            raise Reject(str(exc), requeue=True) from exc
        return status.value if status else None

    # Celery's shutdown signals are process-wide: any worker stopping in this process
    # closes this app's connections too, which is harmless (they reopen on demand).
    worker_shutdown.connect(holder.close, weak=False)
    worker_process_shutdown.connect(holder.close, weak=False)
    return app
