"""/api/v1/tasks: define, inspect, change and run tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from flask import Response, jsonify, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.openapi import BEARER, GUARDED, QueryModel, WholeNumber, problems
from api.problems import BadRequest
from api.serialize import execution_json, task_json
from api.services import act_on_task, run_task_now, services
from taskbeat import store
from taskbeat.limits import MAX_INT
from taskbeat.models import Task
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskChanges, TaskDefinition, TaskView
from taskbeat.tasks.slots import upcoming_slots
from taskbeat.tasks.state import TaskStatus
from taskbeat.views import ExecutionView, FireTimes, TaskPage

blueprint = APIBlueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="tasks", description="Task definitions and actions on them")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)

TaskSort = Literal[
    "name", "-name", "id", "-id", "created_at", "-created_at",
    "next_run_at", "-next_run_at", "last_run_at", "-last_run_at",
]  # fmt: skip


class TaskListQuery(QueryModel):
    limit: WholeNumber = Field(default=50, ge=1, le=500)
    offset: WholeNumber = Field(default=0, ge=0, le=MAX_INT)
    status: TaskStatus | None = None
    handler: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=64)
    q: str | None = Field(default=None, max_length=200, description="A part of the name")
    sort: TaskSort = Field(default="name", description="`-` first for descending")


class TaskRef(BaseModel):
    ref: str = Field(description="The task's id or name")


class IfMatch(BaseModel):
    """The version the client read; a task changed since is refused (409)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    if_match: str | None = Field(
        default=None, alias="If-Match", description='The task\'s ETag, like "3"'
    )


class NextRunsQuery(QueryModel):
    count: WholeNumber = Field(default=10, ge=1, le=1000)


class RunBody(RunRequest):
    """Run now; the body may be left out."""

    model_config = ConfigDict(extra="forbid", openapi_extra={"required": False})  # type: ignore[typeddict-unknown-key]

    @classmethod
    def model_validate(cls, obj: object, **options: object) -> RunBody:  # type: ignore[override]
        return super().model_validate({} if obj is None else obj, **options)  # type: ignore[arg-type]


def _task_links() -> dict[str, dict[str, object]]:
    """From a task in an answer to what a client may do with it next (stateful testing
    follows these)."""
    ref = {"ref": "$response.body#/id"}
    return {
        name: {"operationId": operation, "parameters": ref}
        for name, operation in [
            ("GetTask", "get_task"),
            ("PatchTask", "patch_task"),
            ("PutTask", "put_task"),
            ("RunTask", "run_task"),
            ("PauseTask", "pause_task"),
            ("ResumeTask", "resume_task"),
            ("ResetRetries", "reset_retries"),
            ("NextRuns", "next_runs"),
            ("TaskExecutions", "list_task_executions"),
            ("DeleteTask", "delete_task"),
        ]
    }


class CreatedTask(TaskView):
    """A task, as the API shows it."""

    model_config = ConfigDict(  # type: ignore[typeddict-unknown-key]
        title="Task", extra="forbid", openapi_extra={"links": _task_links()}
    )


class StartedExecution(ExecutionView):
    """An execution, as the API shows it."""

    model_config = ConfigDict(  # type: ignore[typeddict-unknown-key]
        title="Execution",
        extra="forbid",
        openapi_extra={
            "links": {
                "GetExecution": {
                    "operationId": "get_execution",
                    "parameters": {"execution_id": "$response.body#/id"},
                }
            }
        },
    )


CHANGED = {200: CreatedTask, **problems(404)}
# An action with an If-Match the task is no longer at: 409.
ACTED = {200: CreatedTask, **problems(404, 409)}


@blueprint.get("/tasks", responses={200: TaskPage}, operation_id="list_tasks")
def list_tasks(query: TaskListQuery) -> Response:
    """Tasks, filtered and sorted, a page at a time."""
    where = store.listings.TaskFilter(query.status, query.handler, query.tag, query.q)
    with services().sessions() as session:
        page, total = store.listings.list_tasks(
            session, where, sort=query.sort, limit=query.limit, offset=query.offset
        )
        running = store.tasks.running_task_ids(session, [task.id for task in page])
        items = [task_json(task, running=task.id in running) for task in page]
    return jsonify(items=items, total=total, limit=query.limit, offset=query.offset)


@blueprint.post(
    "/tasks",
    responses={201: CreatedTask, **problems(409, 413)},
    operation_id="create_task",
)
def create_task(body: TaskDefinition) -> tuple[Response, int, dict[str, str]]:
    """Define a task; its first run is scheduled at once."""
    found = services()
    with found.sessions.begin() as session:
        task = operations.create_task(
            session,
            body,
            found.registry,
            now=found.clock(),
            default_queue=found.settings.default_queue,
            webhook_hosts=found.settings.webhook_allowed_hosts,
        )
        response = _task_response(session, task)
    found.publisher.wake_scheduler()
    return response, 201, {"Location": url_for(".get_task", ref=task.id)}


@blueprint.get("/tasks/<ref>", responses=CHANGED, operation_id="get_task")
def get_task(path: TaskRef) -> Response:
    """One task, with an ETag of its version."""
    with services().sessions() as session:
        return _task_response(session, store.tasks.get_task(session, path.ref))


_UPDATE = {"responses": {**CHANGED, **problems(409, 413)}}


@blueprint.put("/tasks/<ref>", endpoint="put_task", operation_id="put_task", **_UPDATE)
def put_task(path: TaskRef, header: IfMatch, body: TaskChanges) -> Response:  # type: ignore[valid-type]
    """Change the fields sent (the same as PATCH); If-Match refuses a stale edit."""
    return _update(path.ref, body)


@blueprint.patch("/tasks/<ref>", endpoint="patch_task", operation_id="patch_task", **_UPDATE)
def patch_task(path: TaskRef, header: IfMatch, body: TaskChanges) -> Response:  # type: ignore[valid-type]
    """Change the fields sent; `null` clears a nullable one; If-Match refuses a stale edit."""
    return _update(path.ref, body)


@blueprint.delete(
    "/tasks/<ref>", responses={204: None, **problems(404, 409)}, operation_id="delete_task"
)
def delete_task(path: TaskRef, header: IfMatch) -> tuple[str, int]:
    """Delete the definition; its history stays, runs not started are cancelled.
    If-Match refuses to delete a task changed since."""
    expected = _if_match()
    found = services()
    with found.sessions.begin() as session:
        operations.delete_task(session, path.ref, now=found.clock(), expected_version=expected)
    return "", 204


@blueprint.post("/tasks/<ref>/actions/pause", responses=ACTED, operation_id="pause_task")
def pause_task(path: TaskRef, header: IfMatch) -> Response:
    """Pause: nothing runs until it is resumed (pending retries wait too); If-Match
    refuses a task changed since, as for the other actions."""
    return _act(path.ref, operations.pause_task)


@blueprint.post("/tasks/<ref>/actions/resume", responses=ACTED, operation_id="resume_task")
def resume_task(path: TaskRef, header: IfMatch) -> Response:
    """Resume from now: slots missed while paused do not run."""
    return _act(path.ref, operations.resume_task)


@blueprint.post("/tasks/<ref>/actions/reset-retries", responses=ACTED, operation_id="reset_retries")
def reset_retries(path: TaskRef, header: IfMatch) -> Response:
    """Forget the failure streak; a failed one-time task gets a fresh run."""
    return _act(path.ref, operations.reset_retries)


@blueprint.post(
    "/tasks/<ref>/actions/run",
    responses={202: StartedExecution, **problems(404, 409, 413)},
    operation_id="run_task",
)
def run_task(path: TaskRef, header: IfMatch, body: RunBody) -> tuple[Response, int]:
    """Run now, optionally with other params or as a test run.

    The execution is written, then published straight away; if Redis refuses, the row
    stays due and the scheduler publishes it."""
    execution_id = run_task_now(path.ref, body, _if_match())
    with services().sessions() as session:
        execution = store.executions.get_execution(session, execution_id)
        return jsonify(execution_json(execution)), 202


@blueprint.get(
    "/tasks/<ref>/next-runs",
    responses={200: FireTimes, **problems(404)},
    operation_id="next_runs",
)
def next_runs(path: TaskRef, query: NextRunsQuery) -> Response:
    """The task's next fire times."""
    with services().sessions() as session:
        task = store.tasks.get_task(session, path.ref)
        times = upcoming_slots(task, query.count)
    return jsonify(items=[t.isoformat() for t in times], timezone=task.timezone)


def _update(ref: str, changes: TaskChanges) -> Response:  # type: ignore[valid-type]
    found = services()
    with found.sessions.begin() as session:
        task = operations.update_task(
            session,
            ref,
            changes,
            found.registry,
            now=found.clock(),
            default_queue=found.settings.default_queue,
            expected_version=_if_match(),
            webhook_hosts=found.settings.webhook_allowed_hosts,
        )
        response = _task_response(session, task)
    found.publisher.wake_scheduler()
    return response


def _act(ref: str, action: Callable[..., Task]) -> Response:
    task = act_on_task(ref, action, _if_match())
    with services().sessions() as session:
        return _task_response(session, task)


def _task_response(session: Session, task: Task) -> Response:
    running = bool(store.tasks.running_task_ids(session, [task.id]))
    response = jsonify(task_json(task, running=running))
    response.set_etag(str(task.version))
    return response


def _if_match() -> int | None:
    """The version a client read (If-Match: "<version>"), if it sent one."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = request.if_match
    if tags.star_tag:
        return None
    values = [value for value in tags.as_set() if value]
    if len(values) != 1 or not (values[0].isascii() and values[0].isdigit()):
        raise BadRequest('If-Match must be one ETag of this task, like "3"')
    return min(int(values[0]), MAX_INT + 1)
