"""/api/v1/health: `ok`, `degraded` or `down`, with each component's view. No key needed.

`down` (503) when this API cannot serve: the database or Redis is unreachable.
`degraded` (200: keep it in the load balancer) when work may not be getting done: no
scheduler heartbeat, no worker answering, or too many of the last 24 h's runs failing.
"""

from __future__ import annotations

import enum
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.monitor import Monitor, monitor
from api.openapi import ANY_REQUEST, problems
from api.services import services
from taskbeat import __version__, store
from taskbeat.store.stats import Outcomes
from taskbeat.views import Health

blueprint = APIBlueprint(
    "health",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="health", description="Is the system up, and is work getting done")],
)
FAILURE_WINDOW = 86400.0
# Probes come every few seconds from each load balancer; a day of history is read at most
# this often per API process.
FAILURE_RATE_CACHE = 30.0


class Level(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


Component = dict[str, Any]


@blueprint.get(
    "/health",
    responses={200: Health, 503: Health, **problems(*ANY_REQUEST)},
    operation_id="health",
)
def health() -> tuple[Response, int]:
    """`ok`, `degraded` (both 200) or `down` (503), with each component's view. No key."""
    found = monitor()
    database = _database()
    view = found.redis_view()
    redis = (
        {"status": Level.OK} if view.error is None else {"status": Level.DOWN, "error": view.error}
    )
    components = {
        "database": database,
        "redis": redis,
        "scheduler": _schedulers(view.schedulers),
        "workers": _workers(found, redis_up=view.error is None),
        "failure_rate": _failure_rate(found) if database["status"] is Level.OK else _unknown(),
    }
    level = _overall(components)
    body = {"status": level, "version": __version__, "components": components}
    return jsonify(body), 503 if level is Level.DOWN else 200


def _overall(components: dict[str, Component]) -> Level:
    levels = {component["status"] for component in components.values()}
    if Level.DOWN in levels:
        return Level.DOWN
    return Level.DEGRADED if levels - {Level.OK} else Level.OK


def _unknown() -> Component:
    return {"status": Level.DEGRADED, "error": "unknown while a dependency is down"}


def _database() -> Component:
    try:
        with services().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return {"status": Level.DOWN, "error": type(exc).__name__}
    return {"status": Level.OK}


def _schedulers(alive: list[Any] | None) -> Component:
    if alive is None:
        return _unknown()
    level = Level.OK if alive else Level.DEGRADED
    return {"status": level, "alive": len(alive), "ids": [info.id for info in alive]}


def _workers(found: Monitor, *, redis_up: bool) -> Component:
    snapshot = found.workers() if redis_up else None
    if snapshot is None:
        return _unknown() if not redis_up else {"status": Level.DEGRADED, "online": 0}
    online = len(snapshot.workers)
    return {"status": Level.OK if online else Level.DEGRADED, "online": online}


def _failure_rate(found: Monitor) -> Component:
    threshold = found.services.settings.health_failure_rate

    def counted() -> Outcomes:
        with found.services.sessions() as session:
            return store.stats.status_counts(session, found.since(FAILURE_WINDOW))

    overall = found.cached("failure-rate", FAILURE_RATE_CACHE, counted)
    ran = overall.succeeded + overall.failed
    rate = overall.failed / ran if ran else 0.0
    return {
        "status": Level.DEGRADED if rate > threshold else Level.OK,
        "rate": round(rate, 4),
        "threshold": threshold,
        "failed": overall.failed,
        "finished": ran,
        "window_seconds": int(FAILURE_WINDOW),
    }
