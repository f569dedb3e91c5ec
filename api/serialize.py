"""Models as JSON. Times are ISO-8601 in UTC."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from taskbeat.models import Execution, Task
from taskbeat.tasks.fields import TaskView
from taskbeat.tasks.state import task_status


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task, *, running: bool) -> dict[str, Any]:
    """A task in the shape `TaskView` describes: each of its fields, from the column of
    the same name, and the status derived from the state, the pause flag and `running`."""
    body = {name: getattr(task, name) for name in _VIEW_COLUMNS}
    body["status"] = task_status(task.state, enabled=task.enabled, running=running)
    return {name: _plain(body[name]) for name in _VIEW_ORDER}


_LEADING = ("id", "name", "status", "handler", "schedule")  # what a reader looks for first
_VIEW_ORDER = (*_LEADING, *(name for name in TaskView.model_fields if name not in _LEADING))
_VIEW_COLUMNS = tuple(name for name in _VIEW_ORDER if name != "status")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def execution_json(execution: Execution, *, detail: bool = False) -> dict[str, Any]:
    """An execution; `detail` adds the traceback and the captured log lines."""
    error = None
    if execution.error_type or execution.error_message:
        error = {"type": execution.error_type, "message": execution.error_message}
        if detail:
            error["traceback"] = execution.error_traceback
    body: dict[str, Any] = {
        "id": execution.id,
        "task_id": execution.task_id,
        "task_name": execution.task_name,
        "trigger": execution.trigger.value,
        "status": execution.status.value,
        "attempt": execution.attempt,
        "scheduled_for": iso(execution.scheduled_for),
        "due_at": iso(execution.due_at),
        "created_at": iso(execution.created_at),
        "enqueued_at": iso(execution.enqueued_at),
        "started_at": iso(execution.started_at),
        "finished_at": iso(execution.finished_at),
        "duration": execution.duration,
        "worker": execution.worker,
        "test_mode": execution.test_mode,
        "params": execution.params,
        "result": execution.result,
        "error": error,
    }
    if detail:
        body["logs"] = execution.logs or []
    return body
