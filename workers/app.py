"""The Celery app a worker runs: our single task, bound to a per-process runtime."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery, Task
from celery.exceptions import Reject
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)
from sqlalchemy import Engine

from handlers import load_registry
from taskbeat.celery_app import make_celery
from taskbeat.clock import Clock, utcnow
from taskbeat.db import (
    ProcessKind,
    SessionLimits,
    make_engine,
    make_session_factory,
    one_statement,
    transactional,
)
from taskbeat.handler import HandlerRegistry
from taskbeat.names import RUN_EXECUTION
from taskbeat.outbox.publisher import REDIS_TIMEOUT, Publisher, RedisPublisher
from taskbeat.redis_clients import quick_client
from taskbeat.settings import Settings
from taskbeat.store import runs
from workers import transport
from workers.execution import DatabaseUnavailable, WorkerRuntime, run_execution
from workers.heartbeat import Heartbeats
from workers.pool_deaths import PoolDeaths, request_class, worker_name

log = logging.getLogger(__name__)


class RuntimeHolder:
    """Builds the runtime lazily in each worker process: an engine (and its pool) must
    not cross a fork, so each prefork child opens its own.

    Connections: a prefork child runs one execution at a time and its heartbeat thread
    borrows the same connection between statements, so it holds one; a process whose
    pool is threads holds one per thread plus one for heartbeats.
    """

    def __init__(self, settings: Settings, registry: HandlerRegistry, celery: Celery) -> None:
        self._settings = settings
        self._registry = registry
        self._celery = celery
        self.connections = 1
        self._pid: int | None = None
        self._runtime: WorkerRuntime | None = None
        self._publisher: RedisPublisher | None = None
        self._building = threading.Lock()

    def configure(self, sender: Any = None, **_: Any) -> None:
        """On worker start: size the pool for the execution pool in use."""
        pool = getattr(sender, "pool_cls", "prefork")
        name = pool if isinstance(pool, str) else f"{pool.__module__}.{pool.__qualname__}"
        forks = "prefork" in name or "processes" in name
        concurrency = int(getattr(sender, "concurrency", 1) or 1)
        self.connections = 1 if forks else concurrency + 1
        if not forks:  # handlers run in this process
            self.fence_on_resume()

    def fence_on_resume(self) -> None:
        """In a process that runs handlers: woken by SIGCONT after a SIGSTOP, check the
        fence before the handler runs on (see `workers.heartbeat`). Python takes signal
        handlers from the main thread only."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGCONT, self._resumed)

    def _resumed(self, signum: int, frame: Any) -> None:
        runtime = self._runtime
        if runtime is not None and self._pid == os.getpid():
            runtime.heartbeats.check_fence_on_resume()

    def get(self) -> WorkerRuntime:
        with self._building:  # the warm-up thread and the first run may both ask
            return self._current()

    def _current(self) -> WorkerRuntime:
        if self._runtime is None or self._pid != os.getpid():
            # Autocommit: the claim and a success are one statement each; the failure
            # path's transactions go through a transactional view of the same pool.
            engine = make_engine(
                self._settings.database_url,
                ProcessKind.WORKER,
                pool_size=self.connections,
                autocommit=True,
                limits=SessionLimits.from_settings(self._settings),
            )
            # One fail-fast Redis client for publishing and the alive keys.
            client = quick_client(self._settings.redis_url, REDIS_TIMEOUT)
            self._publisher = RedisPublisher.from_settings(self._settings, self._celery, client)
            self._runtime = make_runtime(
                self._settings, engine, self._registry, self._publisher, utcnow, client
            )
            self._pid = os.getpid()
        return self._runtime

    def warm_up(self, **_: Any) -> None:
        """In a new pool process, before its first message: build the runtime, open its
        connection and run the hot path's statements on nothing (`runs.warm_up`), so the
        first run does not pay for them. In the background: Celery gives a new process a
        few seconds to report ready, and the database may be slower than that. The first
        run waits for the warm-up to end (for at most the connect timeout), rather than
        for a pooled connection the warm-up may fail to open."""
        self.fence_on_resume()
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        with self._building:
            try:
                with one_statement(self._current().engine) as connection:
                    runs.warm_up(connection, "warm-up", utcnow())
            except Exception as exc:  # the first run meets the same trouble, and handles it
                log.warning("could not warm up this worker process: %s", exc)

    def close(self, **_: Any) -> None:
        """Give back the connections this process opened (on worker shutdown)."""
        if self._runtime is not None and self._pid == os.getpid():
            self._runtime.heartbeats.stop()
            self._runtime.engine.dispose()
            if self._publisher is not None:
                self._publisher.close()
        self._runtime = None


def make_runtime(
    settings: Settings,
    engine: Engine,
    registry: HandlerRegistry,
    publisher: Publisher,
    clock: Clock,
    client: redis.Redis,
) -> WorkerRuntime:
    """What the task body needs in one process, on `engine`."""
    return WorkerRuntime(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(transactional(engine)),
        registry=registry,
        publisher=publisher,
        clock=clock,
        heartbeats=Heartbeats(engine, client, settings, clock),
    )


def create_worker_app(settings: Settings, registry: HandlerRegistry | None = None) -> Celery:
    app = make_celery(settings)
    if urlsplit(settings.redis_url).scheme in transport.SCHEMES:
        app.conf.broker_transport = transport.TRANSPORT
    holder = RuntimeHolder(settings, registry or load_registry(settings), app)

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_EXECUTION,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        shared=False,
        Request=request_class(PoolDeaths(settings, utcnow)),
    )
    def run_execution_task(self: Task, execution_id: Any) -> str | None:
        if not isinstance(execution_id, int) or isinstance(execution_id, bool):
            log.error("dropped a message whose execution id is %r, not an integer", execution_id)
            return None
        worker = worker_name(self.request.hostname, os.getpid())
        try:
            status = run_execution(holder.get(), execution_id, worker)
        except DatabaseUnavailable as exc:
            log.warning("%s; the message goes back to the queue", exc)
            time.sleep(settings.worker_requeue_pause)  # do not spin on a database that is down
            raise Reject(str(exc), requeue=True) from exc
        return status.value if status else None

    # Celery's signals are process-wide: any worker starting or stopping in this process
    # reaches this app's holder too, which is harmless (it only sizes and closes pools).
    worker_init.connect(holder.configure, weak=False)
    worker_process_init.connect(holder.warm_up, weak=False)
    worker_shutdown.connect(holder.close, weak=False)
    worker_process_shutdown.connect(holder.close, weak=False)
    return app
