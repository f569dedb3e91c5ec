"""Models as JSON. Times are ISO-8601 in UTC."""

from __future__ import annotations

import enum
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any, get_args, get_origin

from taskbeat.models import Execution, Task
from taskbeat.tasks.fields import TaskView
from taskbeat.tasks.state import task_status


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task, *, running: bool) -> dict[str, Any]:
    """A task in the shape `TaskView` describes: each of its fields, from the column of
    the same name, and the status derived from the state, the pause flag and `running`."""
    body = dict(zip(_VIEW_COLUMNS, _read_columns(task), strict=True))
    for name in _TIMES:
        if body[name] is not None:
            body[name] = body[name].isoformat()
    for name in _ENUMS:
        body[name] = body[name].value
    status = task_status(task.state, enabled=task.enabled, running=running)
    # What a reader looks for first: which task, and how it stands.
    return {"id": body.pop("id"), "name": body.pop("name"), "status": status.value, **body}


def _annotation_is(name: str, kind: type) -> bool:
    annotation = TaskView.model_fields[name].annotation
    options = get_args(annotation) or (annotation,)
    # An Annotated option (a validated time) is its base type.
    types = (
        get_args(option)[0] if get_origin(option) is Annotated else option for option in options
    )
    return any(isinstance(option, type) and issubclass(option, kind) for option in types)


# Read once from TaskView: the columns it shows, in its order, and which need converting
# for JSON (one pass over fifty tasks a page, so no per-value type test).
_VIEW_COLUMNS = tuple(name for name in TaskView.model_fields if name != "status")
_read_columns = attrgetter(*_VIEW_COLUMNS)
_TIMES = tuple(name for name in _VIEW_COLUMNS if _annotation_is(name, datetime))
_ENUMS = tuple(name for name in _VIEW_COLUMNS if _annotation_is(name, enum.Enum))


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
