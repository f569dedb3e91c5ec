"""What an alert says. Built where an outcome is recorded; stored, then sent as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskbeat.models import Task
from taskbeat.status import AlertEvent, ExecutionStatus
from taskbeat.store.alerts import Notice
from taskbeat.store.runs import RunningExecution


def failed(
    task: Task, run: RunningExecution, status: ExecutionStatus, error: str | None, now: datetime
) -> Notice:
    """The slot `run` belongs to failed for the last time."""
    execution = _execution(run, status) | {"error": error}
    body = _body(AlertEvent.FAILED, run, execution, now)
    body["consecutive_failures"] = task.consecutive_failures
    return Notice(run.task_id, run.task_name, AlertEvent.FAILED, run.id, body, now)


def recovered(run: RunningExecution, failures_before: int, now: datetime) -> Notice:
    """`run` succeeded after `failures_before` slots in a row had failed."""
    body = _body(AlertEvent.RECOVERED, run, _execution(run, ExecutionStatus.SUCCEEDED), now)
    body["failures_before"] = failures_before
    return Notice(run.task_id, run.task_name, AlertEvent.RECOVERED, run.id, body, now)


def _body(
    event: AlertEvent, run: RunningExecution, execution: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "event": event.value,
        "task": {"id": run.task_id, "name": run.task_name},
        "execution": execution,
        "occurred_at": now.isoformat(),
    }


def _execution(run: RunningExecution, status: ExecutionStatus) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": status.value,
        "attempt": run.attempt,
        "scheduled_for": run.scheduled_for.isoformat(),
    }
