"""/api/v1/executions and /api/v1/tasks/<ref>/executions: the history, newest first."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from api.inputs import query
from api.serialize import execution_json
from api.services import services
from taskbeat import store
from taskbeat.limits import MAX_ID
from taskbeat.status import ExecutionStatus, Trigger

blueprint = Blueprint("executions", __name__)


class ExecutionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    cursor: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="next_cursor of the last page"
    )
    status: ExecutionStatus | None = None
    trigger: Trigger | None = None
    task: str | None = Field(default=None, description="a task id or name")


@blueprint.get("/executions")
def list_executions() -> Response:
    return _page(query(ExecutionListQuery), task_ref=None)


@blueprint.get("/tasks/<ref>/executions")
def list_task_executions(ref: str) -> Response:
    params = query(ExecutionListQuery)
    return _page(params, task_ref=ref)


@blueprint.get("/executions/<int:execution_id>")
def get_execution(execution_id: int) -> Response:
    with services().sessions() as session:
        return jsonify(
            execution_json(store.executions.get_execution(session, execution_id), detail=True)
        )


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
