"""The application factory."""

from __future__ import annotations

from flask import Blueprint, Flask
from sqlalchemy.exc import IntegrityError

from api import metrics
from api.auth import check_api_key
from api.dashboard import register_dashboard
from api.monitor import register_monitor
from api.problems import register_problem_handlers
from api.routes import executions, handlers, health, schedules, stats, tasks
from api.services import EXTENSION, Services
from handlers import load_registry
from taskbeat.apikeys import ensure_key
from taskbeat.celery_app import make_celery
from taskbeat.clock import Clock, utcnow
from taskbeat.db import ProcessKind, make_engine, make_session_factory
from taskbeat.handler import HandlerRegistry
from taskbeat.outbox.publisher import Publisher, RedisPublisher
from taskbeat.settings import Settings
from taskbeat.status import ApiRole


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
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url, ProcessKind.API, pool_size=threads)
    app.extensions[EXTENSION] = found = Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        registry=registry or load_registry(settings),
        publisher=publisher or RedisPublisher.from_settings(settings, make_celery(settings)),
        clock=clock,
    )
    v1 = Blueprint("v1", __name__, url_prefix="/api/v1")
    v1.before_request(check_api_key)
    for module in (tasks, executions, handlers, schedules, health, stats):
        v1.register_blueprint(module.blueprint)
    app.register_blueprint(v1)
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
