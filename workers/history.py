"""The `History` a handler is given: its task's past, read only when asked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.models import Execution


class StoreHistory:
    def __init__(self, sessions: sessionmaker[Session], task_id: int, execution_id: int) -> None:
        self._sessions = sessions
        self._task_id = task_id
        self._execution_id = execution_id

    def last_execution(self) -> dict[str, Any] | None:
        with self._sessions() as session:
            found = store.executions.last_finished_execution(
                session, self._task_id, self._execution_id
            )
            return None if found is None else _summary(found)

    def prune(self, finished_before: datetime) -> int:
        with self._sessions.begin() as session:
            return store.executions.prune_executions(session, finished_before)


def _summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "status": execution.status.value,
        "attempt": execution.attempt,
        "scheduled_for": execution.scheduled_for.isoformat(),
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
        "duration": execution.duration,
        "result": execution.result,
        "error": execution.error_message,
    }
