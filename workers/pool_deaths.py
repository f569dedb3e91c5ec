"""A prefork pool child that dies mid-run: its run is settled at once, by the worker's
main process.

A handler that ends its process (`os._exit`, a segfault, the OOM killer's SIGKILL, the
fence in `workers.heartbeat`) takes the pool child with it; Celery's main process sees
`WorkerLostError` on the request, and with `reject_on_worker_lost` puts the message back.
Left at that, a handler that kills its process every time (a poison message) would be
redelivered for ever. So, in the main process:

1. Celery calls our `Request.on_failure` with the `WorkerLostError`.
2. The run, if still `running` and held by that child (`<hostname>:<child pid>`), is
   recorded `failed` with the reason, through `record_failure` like any failure: the
   task's retry policy adds the next attempt, until `max_retries`. Its process is known
   dead, so there is no need to wait `lost_after`.
3. Celery requeues the message; its redelivery finds the claim settled and is dropped.

The main process opens a connection only for this (rare) work, and closes it after, so
no connection crosses a fork into the next pool child. If the database cannot be
reached, the sweeper settles the run later, as lost.
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery.worker.request import Request
from sqlalchemy.exc import SQLAlchemyError

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.db import ProcessKind, SessionLimits, make_engine, make_session_factory
from taskbeat.executions.lifecycle import ErrorInfo, Outcome, Recorded, record_failure
from taskbeat.logs import run_context
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus

log = logging.getLogger(__name__)


def worker_name(hostname: str | None, pid: int | None) -> str:
    """How a run records the process that claimed it."""
    return f"{hostname or 'worker'}:{pid}"


class PoolDeaths:
    """Settles the runs of pool children that died (in the worker's main process)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    def settle(self, execution_id: int, worker: str, reason: str) -> Recorded | None:
        """Record `worker`'s run of `execution_id` failed for `reason`, if it still holds
        it; None if it did not (already settled, or never claimed)."""
        engine = make_engine(
            self._settings.database_url,
            ProcessKind.WORKER,
            pool_size=1,
            limits=SessionLimits.from_settings(self._settings),
        )
        try:
            with make_session_factory(engine).begin() as session:
                run = store.sweeps.held_by(session.connection(), execution_id, worker)
                if run is None:
                    return None
                outcome = Outcome(ExecutionStatus.FAILED, error=ErrorInfo("WorkerLost", reason))
                recorded = record_failure(session, run, outcome, self._clock())
        finally:
            engine.dispose()
        if recorded is not None:
            with run_context(run.task_name, run.id, run.attempt):
                log.warning(
                    "execution %s failed, %s; retry: %s",
                    run.id,
                    reason,
                    recorded.retry_execution_id,
                )
        return recorded


def request_class(deaths: PoolDeaths) -> type[Request]:
    """A Celery `Request` class whose failure handler settles a dead child's run first."""

    class SettlingRequest(Request):  # type: ignore[misc]
        def on_failure(self, exc_info: ExceptionInfo, *args: Any, **kwargs: Any) -> Any:
            exc = exc_info.exception
            if isinstance(exc, ExceptionWithTraceback):  # as billiard hands it over
                exc = exc.exc
            if isinstance(exc, SystemExit):  # billiard reports some child exits so
                exc = WorkerLostError(f"its worker process exited with code {exc.code}")
            stopped_by_us = self._already_cancelled or self._already_revoked
            if isinstance(exc, WorkerLostError) and not stopped_by_us:
                _settle(deaths, self, str(exc))
            return super().on_failure(exc_info, *args, **kwargs)

    return SettlingRequest


def _settle(deaths: PoolDeaths, request: Request, reason: str) -> None:
    execution_id = request.args[0] if request.args else None
    if not isinstance(execution_id, int):
        return
    worker = worker_name(request.hostname, request.worker_pid)
    message = f"its worker process died ({reason})"
    try:
        deaths.settle(execution_id, worker, message)
    except SQLAlchemyError as exc:
        log.warning("execution %s: %s; left to the sweeper (%s)", execution_id, message, exc)
