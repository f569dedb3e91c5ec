"""The application factory."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import IntegrityError

from api import audit, metrics
from api.auth import install_auth
from api.dashboard import register_dashboard
from api.inputs import StrictRequest, check_query
from api.monitor import register_monitor
from api.openapi import create_openapi_app
from api.problems import register_problem_handlers
from api.routes import executions, handlers, health, schedules, stats, tasks
from api.services import EXTENSION, Services
from handlers import load_registry
from taskbeat.apikeys import ensure_key
from taskbeat.celery_app import make_celery
from taskbeat.clock import Clock, utcnow
from taskbeat.db import ProcessKind, SessionLimits, make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.limits import MAX_BODY_BYTES
from taskbeat.outbox.publisher import Publisher, RedisPublisher
from taskbeat.settings import Settings
from taskbeat.status import ApiRole

# Each resource's routes: all under /api/v1, all in the OpenAPI document.
API_BLUEPRINTS = (
    tasks.blueprint,
    executions.blueprint,
    handlers.blueprint,
    schedules.blueprint,
    health.blueprint,
    stats.blueprint,
    audit.blueprint,
)


def create_app(
    settings: Settings,
    *,
    registry: HandlerRegistry | None = None,
    publisher: Publisher | None = None,
    clock: Clock = utcnow,
    threads: int = 4,
) -> Flask:
    """The API for `settings`; `threads` is how many requests one process serves at once
    (gunicorn's --threads), and so how many database connections it holds."""
    app = create_openapi_app(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.request_class = StrictRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    engine = make_engine(
        settings.database_url,
        ProcessKind.API,
        pool_size=threads,
        limits=SessionLimits.from_settings(settings),
    )
    app.extensions[EXTENSION] = found = Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        registry=registry or load_registry(settings),
        publisher=publisher or RedisPublisher.from_settings(settings, make_celery(settings)),
        clock=clock,
    )
    audit.install_audit(app)  # first: names the request, and writes down what follows
    install_auth(app, settings.auth_failures_per_minute)
    app.before_request(check_query)
    for blueprint in API_BLUEPRINTS:
        app.register_api(blueprint)
    register_monitor(app, found)
    app.register_blueprint(metrics.blueprint)
    register_dashboard(app, settings)
    register_problem_handlers(app)
    return app


def ensure_admin_key(app: Flask) -> None:
    """Make TASKBEAT_ADMIN_KEY a working admin key (each API process may try at once)."""
    found = app.extensions[EXTENSION]
    if found.settings.admin_key is None:
        return
    try:
        with found.sessions.begin() as session:
            ensure_key(
                session,
                found.settings.admin_key,
                name="TASKBEAT_ADMIN_KEY",
                role=ApiRole.ADMIN,
                now=found.clock(),
            )
    except IntegrityError:
        pass  # another process stored it first
