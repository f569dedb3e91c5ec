"""The Celery app a worker runs: our single task, bound to a per-process runtime."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task

from handlers import load_registry
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.names import RUN_EXECUTION
from taskbeat.publisher import CeleryPublisher
from taskbeat.settings import Settings
from workers.execution import WorkerRuntime, run_execution

log = logging.getLogger(__name__)


class RuntimeHolder:
    """Builds the runtime lazily in each worker process: an engine (and its pool) must
    not cross a fork, so each prefork child opens its own."""

    def __init__(self, settings: Settings, registry: HandlerRegistry, celery: Celery) -> None:
        self._settings = settings
        self._registry = registry
        self._celery = celery
        self._runtime: WorkerRuntime | None = None
        self._pid: int | None = None

    def get(self) -> WorkerRuntime:
        if self._runtime is None or self._pid != os.getpid():
            engine = make_engine(self._settings.database_url)
            self._runtime = WorkerRuntime(
                settings=self._settings,
                session_factory=make_session_factory(engine),
                registry=self._registry,
                publisher=CeleryPublisher.from_settings(self._settings, self._celery),
                clock=utcnow,
            )
            self._pid = os.getpid()
        return self._runtime


def create_worker_app(settings: Settings, registry: HandlerRegistry | None = None) -> Celery:
    app = make_celery(settings)
    holder = RuntimeHolder(settings, registry or load_registry(settings), app)

    @app.task(name=RUN_EXECUTION, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_execution_task(self: Task, execution_id: Any) -> str | None:
        if not isinstance(execution_id, int):
            log.error("dropped a message whose execution id is %r, not an integer", execution_id)
            return None
        worker = f"{self.request.hostname or 'worker'}:{os.getpid()}"
        status = run_execution(holder.get(), execution_id, worker)
        return status.value if status else None

    return app
