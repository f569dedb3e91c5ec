"""A task's fields, described once: what a client may set, with defaults and bounds.

Everything else follows from these models:
- `TaskDefinition` validates a new task (API, CLI, code); `TaskChanges` is the same
  fields, each optional, for an update;
- each field is a column of `taskbeat.models.Task` with the same name, so a validated
  definition is copied onto a task by its own field names (`column_values`);
- `TaskView` adds the read-only fields and is the JSON shape of a task (and its schema).

`tests/unit/tasks/test_fields.py` fails when a field and its column disagree.
This module imports no SQLAlchemy, so the API client can use it.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    create_model,
)

from taskbeat.limits import MAX_ID, MAX_INT, MAX_PARAMS_BYTES, json_problem, json_size
from taskbeat.status import MisfirePolicy, OverlapPolicy
from taskbeat.tasks.state import TaskStatus

TaskName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,199}$")]
QueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/-]{1,64}$")]
# Only the form is checked here; whether its host is allowed is the server's call
# (`taskbeat.alerts.targets`), made when the task is saved and again when sending.
WebhookUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
WEEK = 7 * 86400.0

# Numbers and flags are taken as JSON types only: "3" is not a priority, "false" is not
# false, true is not 1. (Times and enums still come as strings: that is their JSON form.)
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is a float too
Bool = Annotated[bool, Strict()]

_DATE_AND_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _date_and_time(value: Any) -> Any:
    """A time is a string with a date and a time, or a datetime from Python or YAML
    (pydantic alone would also read 0 or "-1" as seconds since 1970, and a date, written
    or YAML's, as its midnight)."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_AND_TIME.match(value)):
        return value
    raise ValueError("must be a date and time in ISO 8601, like 2026-03-01T09:00:00+01:00")


# A time a client sends; without an offset it is wall-clock time in the task's zone.
ClientTime = Annotated[datetime, BeforeValidator(_date_and_time)]


@functools.cache
def timezone_names() -> frozenset[str]:
    """Canonical IANA zone names: not the files beside them in a zoneinfo directory
    (`localtime`, `posixrules`, `Factory`, the `right/` and `posix/` variants)."""
    odd = {"localtime", "posixrules", "Factory"}
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in odd and not name.startswith(("right/", "posix/"))
    )


def _known_zone(name: str) -> str:
    if name not in timezone_names():
        raise ValueError(f"{name!r} is not an IANA time zone name (like Europe/Paris or UTC)")
    return name


def _storable_params(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(value)
    if problem is not None:
        where, message = problem
        raise ValueError(f"{where}: {message}" if where else message)
    if json_size(value) > MAX_PARAMS_BYTES:
        raise ValueError(f"must be at most {MAX_PARAMS_BYTES} bytes as JSON")
    return value


TimezoneName = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
# Any JSON object the databases store and give back as it was.
Params = Annotated[dict[str, Any], AfterValidator(_storable_params)]


class TaskSettings(BaseModel):
    """The fields every task has, with their defaults and bounds."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=10_000)
    params: Params = Field(default_factory=dict)
    timezone: TimezoneName = "UTC"
    enabled: Bool = True
    max_retries: Int = Field(default=0, ge=0, le=100)
    retry_delay: Float = Field(default=60.0, ge=0, le=WEEK)
    retry_backoff: Float = Field(default=2.0, ge=1, le=10)
    retry_backoff_max: Float = Field(default=3600.0, gt=0, le=WEEK)
    retry_jitter: Float = Field(default=0.0, ge=0, le=1)
    timeout: Float | None = Field(default=None, gt=0, le=WEEK)
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    misfire: MisfirePolicy = MisfirePolicy.RUN_ONCE
    # At least a second: a scheduler wakes a few milliseconds after a slot, and a zero
    # grace would make every slot late.
    misfire_grace: Float = Field(default=60.0, ge=1, le=WEEK)
    jitter: Float = Field(default=0.0, ge=0, le=3600)
    start_at: ClientTime | None = None
    end_at: ClientTime | None = None
    max_runs: Int | None = Field(default=None, ge=1, le=MAX_INT)
    queue: QueueName | None = None
    priority: Int = Field(default=0, ge=0, le=9)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    webhook_url: WebhookUrl | None = Field(
        default=None,
        description="POSTed a signed notice when a slot fails for good, and on recovery",
    )
    pause_on_failure: bool = Field(
        default=False, description="Pause the task when a slot has used up its retries"
    )


class TaskDefinition(TaskSettings):
    """A whole task, as created."""

    name: TaskName
    handler: str = Field(min_length=1, max_length=200)
    schedule: str = Field(min_length=1, max_length=200)


class PartialTask(BaseModel):
    """Base of TaskChanges: the fields a client sent to change."""

    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """The fields the client sent, with their values (None meaning 'clear')."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def _all_optional(source: type[BaseModel]) -> type[PartialTask]:
    """`source`'s fields, each optional (default None) and with its own bounds."""
    fields: dict[str, Any] = {}
    for name, info in source.model_fields.items():
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated.__class_getitem__((annotation, *info.metadata))  # type: ignore[attr-defined]
        fields[name] = (annotation | None, None)
    return create_model("TaskChanges", __base__=PartialTask, **fields)


# An update: only the fields present change; `null` clears a nullable field. Built from
# TaskDefinition so the two can never disagree on a bound.
TaskChanges: type[PartialTask] = _all_optional(TaskDefinition)


def _nullable(source: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, info in source.model_fields.items()
        if type(None) in get_args(info.annotation)
    )


# Fields that may be cleared with null; the others must keep a value.
NULLABLE_FIELDS = _nullable(TaskDefinition)
# Fields whose change moves the next fire time.
TIMING_FIELDS = frozenset({"schedule", "timezone", "start_at", "end_at", "max_runs", "enabled"})


class TaskView(TaskDefinition):
    """A task as the API shows it: its definition (times in UTC, the queue resolved)
    and what the system keeps about it."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=MAX_ID)
    status: TaskStatus
    recurring: bool
    next_run_at: datetime | None
    last_run_at: datetime | None = Field(
        description="When its latest slot or manual run was taken (dispatched, or run now)"
    )
    last_success_at: datetime | None
    run_count: int
    consecutive_failures: int
    retry_count: int
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Bumped by each change; send it back as If-Match")


# The read-only fields a view takes from the task row as they are (status is derived).
STORED_VIEW_FIELDS = tuple(
    name
    for name in TaskView.model_fields
    if name not in TaskDefinition.model_fields and name != "status"
)


class RunRequest(BaseModel):
    """Run now: optionally with other params, optionally as a test run."""

    model_config = ConfigDict(extra="forbid")

    params: Params | None = None
    test_mode: Bool = False
