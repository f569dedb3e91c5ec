"""/api/v1/stats: what finished in a window, overall and per task, and tasks by status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from api.openapi import BEARER, GUARDED, QueryModel, WholeNumber, problems
from api.serialize import iso
from api.services import services
from taskbeat import store
from taskbeat.status import ExecutionStatus
from taskbeat.store.stats import Outcomes
from taskbeat.views import Stats

blueprint = APIBlueprint(
    "stats",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="stats", description="What finished lately, overall and per task")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)
DAY = 86400


class StatsQuery(QueryModel):
    window: WholeNumber = Field(
        default=DAY, ge=60, le=30 * DAY, description="seconds back from now (60 s to 30 days)"
    )
    task: str | None = Field(
        default=None, max_length=200, description="a task id or name: only its runs"
    )


@blueprint.get("/stats", responses={200: Stats, **problems(404)}, operation_id="get_stats")
def get_stats(query: StatsQuery) -> Response:
    """Counts by status, success rate, mean and p95 duration over a window, overall and
    per task, and tasks by status now."""
    params = query
    found = services()
    now = found.clock()
    start = now - timedelta(seconds=params.window)
    with found.sessions() as session:
        task_id = None if params.task is None else store.tasks.get_task(session, params.task).id
        window = store.stats.window_stats(session, start, task_id)
        tasks = store.stats.task_status_counts(session) if task_id is None else None
    body: dict[str, Any] = {
        "window_seconds": params.window,
        "since": iso(start),
        "until": iso(now),
        "executions": outcomes_json(window.overall),
        "per_task": [
            {"task_id": task, "task_name": name, **outcomes_json(outcomes)}
            for (task, name), outcomes in sorted(window.per_task.items(), key=lambda kv: kv[0][1])
        ],
    }
    if tasks is not None:
        body["tasks"] = {status.value: count for status, count in tasks.items()}
    return jsonify(body)


def outcomes_json(outcomes: Outcomes) -> dict[str, Any]:
    return {
        "by_status": {
            status.value: outcomes.by_status.get(status, 0) for status in ExecutionStatus
        },
        "success_rate": outcomes.success_rate,
        "mean_duration": outcomes.mean_duration,
        "p95_duration": outcomes.p95_duration,
    }
