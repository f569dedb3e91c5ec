"""Models as JSON. Times are ISO-8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskbeat.models import Execution, Task


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "description": task.description,
        "handler": task.handler,
        "params": task.params,
        "schedule": task.schedule,
        "timezone": task.timezone,
        "recurring": task.recurring,
        "status": task.status.value,
        "enabled": task.enabled,
        "next_run_at": iso(task.next_run_at),
        "last_run_at": iso(task.last_run_at),
        "run_count": task.run_count,
        "consecutive_failures": task.consecutive_failures,
        "retry_count": task.retry_count,
        "max_retries": task.max_retries,
        "retry_delay": task.retry_delay,
        "retry_backoff": task.retry_backoff,
        "retry_backoff_max": task.retry_backoff_max,
        "retry_jitter": task.retry_jitter,
        "timeout": task.timeout,
        "overlap": task.overlap.value,
        "misfire": task.misfire.value,
        "misfire_grace": task.misfire_grace,
        "jitter": task.jitter,
        "start_at": iso(task.start_at),
        "end_at": iso(task.end_at),
        "max_runs": task.max_runs,
        "queue": task.queue,
        "priority": task.priority,
        "tags": task.tags,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "version": task.version,
    }


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
