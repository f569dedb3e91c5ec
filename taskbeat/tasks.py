"""Operations on task definitions: create, update, pause, resume, reset, run now, delete.

Each validates everything before it writes anything, inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taskbeat import store
from taskbeat.definitions import (
    NULLABLE_FIELDS,
    TIMING_FIELDS,
    PartialTask,
    RunRequest,
    TaskDefinition,
)
from taskbeat.errors import Conflict, HandlerNotFound, InvalidInput
from taskbeat.handler import HandlerRegistry, HandlerSpec
from taskbeat.models import Execution, Task
from taskbeat.schedules import client_time, parse_schedule, parse_timezone
from taskbeat.slots import first_slot, schedule_of, within_bounds
from taskbeat.status import TaskState, Trigger

_MAX_SLOT_PROBES = 1000
# Columns an API definition maps onto one to one.
_PLAIN_FIELDS = (
    "name", "description", "handler", "schedule", "timezone", "enabled", "max_retries",
    "retry_delay", "retry_backoff", "retry_backoff_max", "retry_jitter", "timeout", "overlap",
    "misfire", "misfire_grace", "jitter", "max_runs", "priority", "tags",
)  # fmt: skip


def create_task(
    session: Session,
    definition: TaskDefinition,
    registry: HandlerRegistry,
    *,
    now: datetime,
    default_queue: str,
) -> Task:
    if store.task_name_exists(session, definition.name):
        raise Conflict(f"a task named {definition.name!r} already exists")
    task = Task(created_at=now, updated_at=now, run_count=0, version=1, state=TaskState.ACTIVE)
    _apply(task, definition, registry, default_queue)
    task.next_run_at = first_slot(task, now)
    if task.enabled and task.next_run_at is None:
        raise InvalidInput(*_why_never(task))
    session.add(task)
    try:
        session.flush()
    except IntegrityError as exc:  # the same name, created at the same moment elsewhere
        raise Conflict(f"a task named {definition.name!r} already exists") from exc
    return task


def update_task(
    session: Session,
    ref: str,
    changes: PartialTask,
    registry: HandlerRegistry,
    *,
    now: datetime,
    default_queue: str,
    expected_version: int | None = None,
) -> Task:
    task = store.get_task(session, ref, for_update=True)
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            f"task {task.name!r} is at version {task.version}, not {expected_version}: "
            "read it again and reapply your change"
        )
    given = changes.given()
    for name, value in given.items():
        if value is None and name not in NULLABLE_FIELDS:
            raise InvalidInput(name, "may not be null")
    if given.get("name", task.name) != task.name and store.task_name_exists(session, given["name"]):
        raise Conflict(f"a task named {given['name']!r} already exists")
    merged = TaskDefinition.model_validate({**definition_of(task), **given})
    _apply(task, merged, registry, default_queue)
    if TIMING_FIELDS & given.keys():
        _rearm(task, now)
    task.updated_at = now
    task.version += 1
    return task


def pause_task(session: Session, ref: str, *, now: datetime) -> Task:
    task = store.get_task(session, ref, for_update=True)
    if task.enabled:
        task.enabled = False
        task.next_run_at = None
        task.updated_at = now
        task.version += 1
    return task


def resume_task(session: Session, ref: str, *, now: datetime) -> Task:
    task = store.get_task(session, ref, for_update=True)
    if not task.enabled:
        task.enabled = True
        _rearm(task, now)
        task.updated_at = now
        task.version += 1
    return task


def reset_retries(session: Session, ref: str, *, now: datetime) -> Task:
    """Forget the failure streak: cancel pending retries, zero the counters.

    A failed one-time task is given a fresh run, now.
    """
    task = store.get_task(session, ref, for_update=True)
    store.cancel_pending(session, task.id, now, retries_only=True)
    task.retry_count = 0
    task.consecutive_failures = 0
    if task.state in (TaskState.FAILED, TaskState.RETRY_SCHEDULED):
        task.state = TaskState.ACTIVE
        if not task.recurring and task.enabled:
            task.next_run_at = now
    task.updated_at = now
    return task


def delete_task(session: Session, ref: str, *, now: datetime) -> None:
    """Delete the definition; its history stays, and what had not started is cancelled."""
    task = store.get_task(session, ref, for_update=True)
    store.cancel_pending(session, task.id, now)
    session.delete(task)


def create_manual_run(
    session: Session,
    ref: str,
    request: RunRequest,
    registry: HandlerRegistry,
    *,
    now: datetime,
    lease_until: datetime,
) -> tuple[Execution, Task]:
    """An execution to run now, leased so the caller can publish it straight away.

    Its slot is the request time, moved on by a microsecond while that is taken (the
    unique key allows one execution per slot) or is the task's own next slot, which the
    scheduler will need.
    """
    task = store.get_task(session, ref)
    if request.params is not None:
        _handler(registry, task.handler).validate_params(request.params)
    for step in range(_MAX_SLOT_PROBES):
        slot = now + timedelta(microseconds=step)
        if slot == task.next_run_at:
            continue
        row = store.first_attempt(
            task,
            slot,
            now,
            trigger=Trigger.MANUAL,
            due_at=now,
            params=request.params,
            test_mode=request.test_mode,
            publish_lease_until=lease_until,
        )
        added = store.add_executions(session, [row])
        if added:
            [execution_id] = added.values()
            return store.get_execution(session, execution_id), task
    raise Conflict(f"task {task.name!r} is being run too often to record another run now")


def upcoming_runs(task: Task, count: int) -> list[datetime]:
    """The task's next `count` fire times from next_run_at on (none while paused or done)."""
    schedule = schedule_of(task)
    times: list[datetime] = []
    when = task.next_run_at
    runs = task.run_count
    while when is not None and len(times) < count:
        times.append(when)
        runs += 1
        when = within_bounds(task, schedule.next_fire_time(when), runs)
    return times


def definition_of(task: Task) -> dict[str, Any]:
    """The task as a definition (the fields a client sets)."""
    values = {name: getattr(task, name) for name in _PLAIN_FIELDS}
    return {
        **values,
        "params": task.params,
        "start_at": task.start_at,
        "end_at": task.end_at,
        "queue": task.queue,
    }


def _apply(
    task: Task, definition: TaskDefinition, registry: HandlerRegistry, default_queue: str
) -> None:
    """Validate the definition as a whole and copy it onto the task."""
    spec = _handler(registry, definition.handler)
    params = spec.validate_params(definition.params)
    zone = parse_timezone(definition.timezone)
    start_at = _as_utc(definition.start_at, zone, "start_at")
    end_at = _as_utc(definition.end_at, zone, "end_at")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput("end_at", "must be later than start_at")
    anchor = start_at or task.created_at
    schedule = parse_schedule(definition.schedule, definition.timezone, anchor)
    for name in _PLAIN_FIELDS:
        setattr(task, name, getattr(definition, name))
    task.params = params.model_dump(mode="json") if spec.params_model else dict(params)
    task.start_at = start_at
    task.end_at = end_at
    task.queue = definition.queue or default_queue
    task.recurring = schedule.recurring


def _why_never(task: Task) -> tuple[str, str]:
    """The field to blame for a new task that would never run, and why."""
    if task.end_at is not None:
        return "end_at", "is before the first run: the task would never run"
    return "start_at", "leaves no fire time before the end of the calendar"


def _rearm(task: Task, now: datetime) -> None:
    """Recompute next_run_at after a timing change, and whether the task is done."""
    task.next_run_at = first_slot(task, now)
    if task.next_run_at is not None and task.state is TaskState.COMPLETED:
        task.state = TaskState.ACTIVE
    elif task.next_run_at is None and task.enabled and task.state is TaskState.ACTIVE:
        task.state = TaskState.COMPLETED if task.run_count > 0 else task.state


def _as_utc(value: datetime | None, zone: ZoneInfo, field: str) -> datetime | None:
    return None if value is None else client_time(value, zone, field)


def _handler(registry: HandlerRegistry, name: str) -> HandlerSpec:
    try:
        return registry.get(name)
    except HandlerNotFound as exc:
        raise InvalidInput("handler", f"{exc} (GET /api/v1/handlers lists them)") from exc
