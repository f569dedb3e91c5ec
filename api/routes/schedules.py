"""/api/v1/schedules/preview: the fire times a schedule would give, before saving a task."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from api.openapi import BEARER, GUARDED, QueryModel, WholeNumber, problems
from api.services import services
from taskbeat.schedules import (
    client_time,
    first_fire_time,
    parse_schedule,
    parse_timezone,
    preview,
)
from taskbeat.tasks.fields import ClientTime, TimezoneName
from taskbeat.views import SchedulePreview

blueprint = APIBlueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="schedules", description="Schedules before they are saved")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)


class PreviewQuery(QueryModel):
    schedule: str = Field(min_length=1, max_length=200)
    timezone: TimezoneName = "UTC"
    count: WholeNumber = Field(default=10, ge=1, le=1000)
    start_at: ClientTime | None = None


@blueprint.get(
    "/schedules/preview", responses={200: SchedulePreview}, operation_id="preview_schedule"
)
def preview_schedule(query: PreviewQuery) -> Response:
    """The fire times a new task with this schedule would have, from now (or start_at)."""
    now = services().clock()
    zone = parse_timezone(query.timezone)
    start_at = None if query.start_at is None else client_time(query.start_at, zone, "start_at")
    schedule = parse_schedule(query.schedule, query.timezone, start_at or now)
    first = first_fire_time(schedule, now, start_at)
    times = [] if first is None else [first, *preview(schedule, first, query.count - 1)]
    return jsonify(
        items=[t.isoformat() for t in times],
        recurring=schedule.recurring,
        timezone=query.timezone,
    )
