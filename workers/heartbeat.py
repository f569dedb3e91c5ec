"""A thread that stamps a running execution's heartbeat, so the sweeper sees it alive."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        execution_id: int,
        interval: float,
        clock: Clock,
    ) -> None:
        self._sessions = session_factory
        self._execution_id = execution_id
        self._interval = interval
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{execution_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=self._interval + 5)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                with self._sessions.begin() as session:
                    alive = store.touch_heartbeat(session, self._execution_id, self._clock())
            except SQLAlchemyError as exc:
                log.warning("heartbeat for execution %s failed: %s", self._execution_id, exc)
                continue
            if not alive:
                return  # no longer running (declared lost, or cancelled): stop stamping
