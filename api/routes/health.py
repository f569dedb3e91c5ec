"""/api/v1/health: can this API reach its database and Redis? No key needed."""

from __future__ import annotations

import redis
from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.services import services
from taskbeat import __version__
from taskbeat.views import Health

blueprint = APIBlueprint(
    "health",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="health", description="Is the API up, and what it needs")],
)


@blueprint.get("/health", responses={200: Health, 503: Health}, operation_id="health")
def health() -> tuple[Response, int]:
    """Database and Redis reachability: 200 when both answer, 503 otherwise. No key."""
    found = services()
    checks = {"database": _check_database(), "redis": _check_redis(found.settings.redis_url)}
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "version": __version__, **checks}
    return jsonify(body), 200 if healthy else 503


def _check_database() -> str:
    try:
        with services().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_redis(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"error: {type(exc).__name__}"
    finally:
        client.close()
    return "ok"
