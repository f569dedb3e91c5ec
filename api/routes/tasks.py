"""/api/v1/tasks: define, inspect, change and run tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.inputs import json_body, query
from api.problems import BadRequest
from api.serialize import execution_json, task_json
from api.services import act_on_task, run_task_now, services
from taskbeat import store
from taskbeat.limits import MAX_INT
from taskbeat.models import Task
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskChanges, TaskDefinition
from taskbeat.tasks.slots import upcoming_slots
from taskbeat.tasks.state import TaskStatus

blueprint = Blueprint("tasks", __name__)

TaskSort = Literal[
    "name", "-name", "id", "-id", "created_at", "-created_at",
    "next_run_at", "-next_run_at", "last_run_at", "-last_run_at",
]  # fmt: skip


class TaskListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_INT)
    status: TaskStatus | None = None
    handler: str | None = None
    tag: str | None = None
    q: str | None = Field(default=None, max_length=200)
    sort: TaskSort = "name"


class NextRunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=10, ge=1, le=1000)


@blueprint.get("/tasks")
def list_tasks() -> Response:
    params = query(TaskListQuery)
    where = store.listings.TaskFilter(params.status, params.handler, params.tag, params.q)
    with services().sessions() as session:
        page, total = store.listings.list_tasks(
            session, where, sort=params.sort, limit=params.limit, offset=params.offset
        )
        running = store.tasks.running_task_ids(session, [task.id for task in page])
        items = [task_json(task, running=task.id in running) for task in page]
    return jsonify(items=items, total=total, limit=params.limit, offset=params.offset)


@blueprint.post("/tasks")
def create_task() -> tuple[Response, int, dict[str, str]]:
    definition = json_body(TaskDefinition)
    found = services()
    with found.sessions.begin() as session:
        task = operations.create_task(
            session,
            definition,
            found.registry,
            now=found.clock(),
            default_queue=found.settings.default_queue,
            webhook_hosts=found.settings.webhook_allowed_hosts,
        )
        response = _task_response(session, task)
    found.publisher.wake_scheduler()
    return response, 201, {"Location": url_for(".get_task", ref=task.id)}


@blueprint.get("/tasks/<ref>")
def get_task(ref: str) -> Response:
    with services().sessions() as session:
        return _task_response(session, store.tasks.get_task(session, ref))


@blueprint.route("/tasks/<ref>", methods=["PUT", "PATCH"])
def update_task(ref: str) -> Response:
    changes = json_body(TaskChanges)
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


@blueprint.delete("/tasks/<ref>")
def delete_task(ref: str) -> tuple[str, int]:
    found = services()
    with found.sessions.begin() as session:
        operations.delete_task(session, ref, now=found.clock())
    return "", 204


@blueprint.post("/tasks/<ref>/actions/pause")
def pause_task(ref: str) -> Response:
    return _act(ref, operations.pause_task)


@blueprint.post("/tasks/<ref>/actions/resume")
def resume_task(ref: str) -> Response:
    return _act(ref, operations.resume_task)


@blueprint.post("/tasks/<ref>/actions/reset-retries")
def reset_retries(ref: str) -> Response:
    return _act(ref, operations.reset_retries)


@blueprint.post("/tasks/<ref>/actions/run")
def run_task(ref: str) -> tuple[Response, int]:
    """Run now (the execution is published straight away when Redis takes it)."""
    execution_id = run_task_now(ref, json_body(RunRequest, optional=True))
    with services().sessions() as session:
        execution = store.executions.get_execution(session, execution_id)
        return jsonify(execution_json(execution)), 202


@blueprint.get("/tasks/<ref>/next-runs")
def next_runs(ref: str) -> Response:
    count = query(NextRunsQuery).count
    with services().sessions() as session:
        task = store.tasks.get_task(session, ref)
        times = upcoming_slots(task, count)
    return jsonify(items=[t.isoformat() for t in times], timezone=task.timezone)


def _act(ref: str, action: Callable[..., Task]) -> Response:
    task = act_on_task(ref, action)
    with services().sessions() as session:
        return _task_response(session, task)


def _task_response(session: Session, task: Task) -> Response:
    running = bool(store.tasks.running_task_ids(session, [task.id]))
    response = jsonify(task_json(task, running=running))
    response.set_etag(str(task.version))
    return response


def _if_match() -> int | None:
    """The version a client read (If-Match: "<version>"), if it sent one."""
    tags = request.if_match
    if not tags or tags.star_tag:
        return None
    values = list(tags.as_set())
    if len(values) != 1 or not values[0].isdigit():
        raise BadRequest('If-Match must be one ETag of this task, like "3"')
    return int(values[0])
