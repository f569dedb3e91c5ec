"""The JSON shapes the API answers with, beyond a task's own (`TaskView` in
`taskbeat.tasks.fields`): executions, pages, handlers, fire times, health, the audit
trail and problems.

The API's OpenAPI document is generated from these models, and the API client parses
answers with them. No SQLAlchemy, Flask or Celery here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskbeat.status import ApiRole, ExecutionStatus, Trigger
from taskbeat.tasks.fields import TaskView
from taskbeat.tasks.state import TaskStatus


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskPage(View):
    items: list[TaskView]
    total: int = Field(description="How many tasks match the filters")
    limit: int
    offset: int


class ExecutionError(View):
    type: str | None
    message: str | None
    traceback: str | None = Field(default=None, description="Only on GET /executions/{id}")


class ExecutionView(View):
    """One attempt of one slot of a task."""

    id: int
    task_id: int
    task_name: str
    trigger: Trigger
    status: ExecutionStatus
    attempt: int
    scheduled_for: datetime = Field(description="The slot this attempt belongs to")
    due_at: datetime
    created_at: datetime
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None = Field(description="Seconds the handler ran")
    worker: str | None
    test_mode: bool
    params: dict[str, Any] | None = Field(description="Params a manual run overrode")
    result: Any = Field(description="What the handler returned (capped in size)")
    error: ExecutionError | None
    logs: list[str] | None = Field(default=None, description="Only on GET /executions/{id}")


class ExecutionPage(View):
    items: list[ExecutionView]
    limit: int
    next_cursor: int | None = Field(
        description="Send as `cursor` for the next page; null at the end"
    )


class HandlerView(View):
    name: str
    description: str
    params_schema: dict[str, Any] | None = Field(description="JSON schema of its params")
    default_schedule: str | None = Field(description="`taskbeat apply --defaults` installs it")
    is_async: bool


class HandlerList(View):
    items: list[HandlerView]


class FireTimes(View):
    items: list[datetime]
    timezone: str


class SchedulePreview(FireTimes):
    recurring: bool


class HealthComponent(BaseModel):
    """One component's view: its level, and what it saw (more fields may be added)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "down"]
    error: str | None = None


class Health(BaseModel):
    """`down` (503) when the API cannot serve (database or Redis unreachable); `degraded`
    (200) when work may not be getting done (no scheduler heartbeat, no worker answering,
    too many failures over 24 h); else `ok`."""

    status: Literal["ok", "degraded", "down"]
    version: str
    components: dict[str, HealthComponent]


class Outcomes(View):
    """What finished in a window: counts by status, the success rate among runs that
    ended (succeeded or failed in any way), mean and p95 duration in seconds."""

    by_status: dict[ExecutionStatus, int]
    success_rate: float | None
    mean_duration: float | None
    p95_duration: float | None


class TaskOutcomes(Outcomes):
    task_id: int
    task_name: str


class Stats(View):
    window_seconds: int
    since: datetime
    until: datetime
    executions: Outcomes
    per_task: list[TaskOutcomes]
    tasks: dict[TaskStatus, int] | None = Field(
        default=None, description="Tasks by status now (all tasks; absent with `task`)"
    )


class AuditEntry(View):
    """A change someone made, or a request that was refused."""

    id: int
    at: datetime
    key_id: int | None = Field(description="The API key that made it; null without a valid key")
    role: ApiRole | None
    action: str = Field(description="The operation, e.g. `create_task`")
    method: str
    target: str | None = Field(description="What it acted on, e.g. a task's id or name")
    status: int = Field(description="The HTTP status it was answered with")
    outcome: str = Field(description="`ok`, `denied` or `failed`")
    request_id: str


class AuditPage(View):
    items: list[AuditEntry]
    limit: int
    next_cursor: int | None


class FieldProblem(View):
    field: str = Field(description="Dotted path of the field at fault, e.g. `params.count`")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(default=None, description="On a 422: each field")
