"""/api/v1/executions and /api/v1/tasks/<ref>/executions: the history, newest first."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from api.openapi import BEARER, GUARDED, QueryModel, WholeNumber, problems
from api.routes.tasks import TaskRef
from api.serialize import execution_json
from api.services import services
from taskbeat import store
from taskbeat.limits import MAX_ID
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.views import ExecutionPage, ExecutionView

blueprint = APIBlueprint(
    "executions",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="executions", description="Every attempt of every task")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)


class ExecutionListQuery(QueryModel):
    limit: WholeNumber = Field(default=50, ge=1, le=500)
    cursor: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_ID, description="next_cursor of the last page"
    )
    status: ExecutionStatus | None = None
    trigger: Trigger | None = None
    task: str | None = Field(default=None, max_length=200, description="A task's id or name")


class ExecutionRef(BaseModel):
    execution_id: int = Field(description="Beyond any id: 404")


@blueprint.get(
    "/executions",
    responses={200: ExecutionPage, **problems(404)},
    operation_id="list_executions",
)
def list_executions(query: ExecutionListQuery) -> Response:
    """Attempts across tasks, newest first."""
    return _page(query, task_ref=None)


@blueprint.get(
    "/tasks/<ref>/executions",
    responses={200: ExecutionPage, **problems(404)},
    operation_id="list_task_executions",
)
def list_task_executions(path: TaskRef, query: ExecutionListQuery) -> Response:
    """One task's attempts, newest first."""
    return _page(query, task_ref=path.ref)


@blueprint.get(
    "/executions/<int:execution_id>",
    responses={200: ExecutionView, **problems(404)},
    operation_id="get_execution",
)
def get_execution(path: ExecutionRef) -> Response:
    """One attempt, with its captured log lines and traceback."""
    with services().sessions() as session:
        execution = store.executions.get_execution(session, path.execution_id)
        return jsonify(execution_json(execution, detail=True))


def _page(params: ExecutionListQuery, task_ref: str | None) -> Response:
    with services().sessions() as session:
        task_id = None
        ref = task_ref or params.task
        if ref is not None:
            task_id = store.tasks.get_task(session, ref).id
        where = store.listings.ExecutionFilter(
            task_id, params.status, params.trigger, params.cursor
        )
        rows = store.listings.list_executions(session, where, limit=params.limit)
        items = [execution_json(row) for row in rows]
    next_cursor = rows[-1].id if len(rows) == params.limit else None
    return jsonify(items=items, limit=params.limit, next_cursor=next_cursor)
