"""/api/v1/schedules/preview: the fire times a schedule would give, before saving a task."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field

from api.inputs import query
from api.services import services
from taskbeat.schedules import (
    client_time,
    first_fire_time,
    parse_schedule,
    parse_timezone,
    preview,
)

blueprint = Blueprint("schedules", __name__)


class PreviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    count: int = Field(default=10, ge=1, le=1000)
    start_at: datetime | None = None


@blueprint.get("/schedules/preview")
def preview_schedule() -> Response:
    """As a new task with this schedule would fire from now (or from start_at)."""
    params = query(PreviewQuery)
    now = services().clock()
    zone = parse_timezone(params.timezone)
    start_at = None if params.start_at is None else client_time(params.start_at, zone, "start_at")
    schedule = parse_schedule(params.schedule, params.timezone, start_at or now)
    first = first_fire_time(schedule, now, start_at)
    times = [] if first is None else [first, *preview(schedule, first, params.count - 1)]
    return jsonify(
        items=[t.isoformat() for t in times],
        recurring=schedule.recurring,
        timezone=params.timezone,
    )
