"""Operations on task definitions: create, update, pause, resume, reset, run now, delete.

Each validates everything before it writes anything, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taskbeat import store
from taskbeat.alerts.targets import check_target
from taskbeat.errors import Conflict, HandlerNotFound, InvalidInput
from taskbeat.handler import HandlerRegistry, HandlerSpec
from taskbeat.models import Execution, Task
from taskbeat.schedules import client_time, parse_schedule, parse_timezone
from taskbeat.status import Trigger
from taskbeat.tasks.fields import (
    NULLABLE_FIELDS,
    TIMING_FIELDS,
    PartialTask,
    RunRequest,
    TaskDefinition,
)
from taskbeat.tasks.slots import first_slot
from taskbeat.tasks.state import TaskEvent, TaskState, next_state


def create_task(
    session: Session,
    definition: TaskDefinition,
    registry: HandlerRegistry,
    *,
    now: datetime,
    default_queue: str,
    webhook_hosts: Iterable[str] = (),
) -> Task:
    if store.tasks.task_name_exists(session, definition.name):
        raise Conflict(f"a task named {definition.name!r} already exists")
    task = new_task(
        definition, registry, now=now, default_queue=default_queue, webhook_hosts=webhook_hosts
    )
    session.add(task)
    try:
        session.flush()
    except IntegrityError as exc:  # the same name, created at the same moment elsewhere
        raise Conflict(f"a task named {definition.name!r} already exists") from exc
    return task


def new_task(
    definition: TaskDefinition,
    registry: HandlerRegistry,
    *,
    now: datetime,
    default_queue: str,
    webhook_hosts: Iterable[str] = (),
) -> Task:
    """The row a definition makes, armed from now; InvalidInput if it would never run."""
    task = Task(
        created_at=now,
        updated_at=now,
        run_count=0,
        manual_runs=0,
        consecutive_failures=0,
        retry_count=0,
        version=1,
        state=TaskState.ACTIVE,
    )
    _apply(task, definition, registry, default_queue, webhook_hosts)
    task.next_run_at = first_slot(task, now)
    if task.enabled and task.next_run_at is None:
        raise InvalidInput(*_why_never(task))
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
    webhook_hosts: Iterable[str] = (),
) -> Task:
    """Change the fields given; a change that changes nothing leaves the version alone."""
    task = locked_task(session, ref, expected_version)
    given = changes.given()
    for name, value in given.items():
        if value is None and name not in NULLABLE_FIELDS:
            raise InvalidInput(name, "may not be null")
    if given.get("name", task.name) != task.name and store.tasks.task_name_exists(
        session, given["name"]
    ):
        raise Conflict(f"a task named {given['name']!r} already exists")
    before = definition_of(task)
    merged = TaskDefinition.model_validate({**before, **given})
    _apply(task, merged, registry, default_queue, webhook_hosts)
    changed = {name for name, value in definition_of(task).items() if before[name] != value}
    if not changed:
        return task
    if TIMING_FIELDS & changed:
        _rearm(task, now)
        if task.enabled and task.next_run_at is None and task.run_count == 0:
            raise InvalidInput(*_why_never(task))  # the same rule as on create
    task.updated_at = now
    task.version += 1
    return task


def locked_task(session: Session, ref: str, expected_version: int | None = None) -> Task:
    """The task, its row locked until the transaction ends; Conflict if the client read
    another version of it than `expected_version` (an If-Match)."""
    task = store.tasks.get_task(session, ref, for_update=True)
    if expected_version is not None and expected_version != task.version:
        raise Conflict(
            f"task {task.name!r} is at version {task.version}, not {expected_version}: "
            "read it again and reapply your change"
        )
    return task


def pause_task(
    session: Session, ref: str, *, now: datetime, expected_version: int | None = None
) -> Task:
    task = locked_task(session, ref, expected_version)
    pause(task, now)
    return task


def pause(task: Task, now: datetime) -> None:
    """Stop dispatching the task (a client's pause, or `pause_on_failure`)."""
    if task.enabled:
        task.enabled = False
        task.next_run_at = None
        task.updated_at = now
        task.version += 1


def resume_task(
    session: Session, ref: str, *, now: datetime, expected_version: int | None = None
) -> Task:
    task = locked_task(session, ref, expected_version)
    if not task.enabled:
        task.enabled = True
        _rearm(task, now)
        task.updated_at = now
        task.version += 1
    return task


def reset_retries(
    session: Session, ref: str, *, now: datetime, expected_version: int | None = None
) -> Task:
    """Forget the failure streak: cancel pending retries, zero the counters.

    A failed one-time task is given a fresh run, now.
    """
    task = locked_task(session, ref, expected_version)
    store.executions.cancel_pending(session, task.id, now, retries_only=True)
    task.retry_count = 0
    task.consecutive_failures = 0
    state = next_state(task.state, TaskEvent.RETRIES_RESET)
    if state is not task.state and not task.recurring and task.enabled:
        task.next_run_at = now
    task.state = state
    task.updated_at = now
    return task


def delete_task(
    session: Session, ref: str, *, now: datetime, expected_version: int | None = None
) -> None:
    """Delete the definition; its history stays, and what had not started is cancelled."""
    task = locked_task(session, ref, expected_version)
    store.executions.cancel_pending(session, task.id, now)
    session.delete(task)


def create_manual_run(
    session: Session,
    ref: str,
    request: RunRequest,
    registry: HandlerRegistry,
    *,
    now: datetime,
    lease_until: datetime,
    expected_version: int | None = None,
) -> tuple[Execution, Task]:
    """An execution to run now, leased so the caller can publish it straight away.

    Its slot is the request time, and its key carries the task's next manual-run
    number, so it never collides with another manual run or with a scheduled slot.
    With an `expected_version`, only if the task is still at it.
    """
    if expected_version is None:
        task = store.tasks.get_task(session, ref)
    else:
        task = locked_task(session, ref, expected_version)
    if request.params is not None:
        _handler(registry, task.handler).validate_params(request.params)
    number = store.tasks.number_manual_run(session, task.id, now, test=request.test_mode)
    row = store.executions.first_attempt(
        task.id,
        task.name,
        now,
        now,
        trigger=Trigger.MANUAL,
        manual_run=number,
        params=request.params,
        test_mode=request.test_mode,
        publish_lease_until=lease_until,
    )
    [execution_id] = store.executions.insert_executions(session, [row]).values()
    return store.executions.get_execution(session, execution_id), task


def definition_of(task: Task) -> dict[str, Any]:
    """The task as a definition: its value of each field a client sets."""
    return {name: getattr(task, name) for name in TaskDefinition.model_fields}


def _apply(
    task: Task,
    definition: TaskDefinition,
    registry: HandlerRegistry,
    default_queue: str,
    webhook_hosts: Iterable[str],
) -> None:
    """Validate the definition as a whole and copy it onto the task.

    Every field of TaskDefinition is the task column of the same name; the few that are
    stored in another form are converted here (params through the handler's model,
    times to UTC, the default queue).
    """
    spec = _handler(registry, definition.handler)
    params = spec.validate_params(definition.params)
    zone = parse_timezone(definition.timezone)
    start_at = _as_utc(definition.start_at, zone, "start_at")
    end_at = _as_utc(definition.end_at, zone, "end_at")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput("end_at", "must be later than start_at")
    schedule = parse_schedule(definition.schedule, definition.timezone, start_at or task.created_at)
    if definition.webhook_url is not None:
        check_target(definition.webhook_url, webhook_hosts)
    columns = definition.model_dump()
    columns.update(
        params=params.model_dump(mode="json") if spec.params_model else dict(params),
        start_at=start_at,
        end_at=end_at,
        queue=definition.queue or default_queue,
    )
    for name, value in columns.items():
        setattr(task, name, value)
    task.recurring = schedule.recurring


def _why_never(task: Task) -> tuple[str, str]:
    """The field to blame for a task that would never run, and why."""
    if task.end_at is not None:
        return "end_at", "is before the first run: the task would never run"
    if task.max_runs is not None and task.run_count >= task.max_runs:
        return "max_runs", "has been reached: the task would never run"
    return "start_at", "leaves no fire time before the end of the calendar"


def _rearm(task: Task, now: datetime) -> None:
    """Recompute next_run_at after a timing change or a resume, and whether it is done."""
    task.next_run_at = first_slot(task, now)
    if task.next_run_at is not None:
        task.state = next_state(task.state, TaskEvent.REARMED)
    elif task.enabled and task.run_count > 0:
        task.state = next_state(task.state, TaskEvent.RAN_OUT)


def _as_utc(value: datetime | None, zone: ZoneInfo, field: str) -> datetime | None:
    return None if value is None else client_time(value, zone, field)


def _handler(registry: HandlerRegistry, name: str) -> HandlerSpec:
    try:
        return registry.get(name)
    except HandlerNotFound as exc:
        raise InvalidInput("handler", f"{exc} (GET /api/v1/handlers lists them)") from exc
