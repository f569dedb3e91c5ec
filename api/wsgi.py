"""For WSGI servers: `gunicorn 'api.wsgi:create_app_from_env()'`."""

from __future__ import annotations

import os

from flask import Flask

from api.app import create_app, ensure_admin_key
from taskbeat.logs import configure_logging
from taskbeat.settings import Settings


def create_app_from_env() -> Flask:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    ensure_admin_key(app)
    return app
