"""The dashboard: server-rendered pages at `/`, signed in with an API key.

- `signin`: the sign-in form, the session cookie (HttpOnly, SameSite) and CSRF tokens;
- `pages`: the views (overview, tasks, a task, executions, an execution, workers) and
  the admin's action buttons;
- `data`: what the pages show, from the store's index-served queries;
- `charts`: small SVG charts drawn on the server (no script library, no CDN).

Templates and static files are served by the app itself: nothing is fetched from the
internet, and nothing is built.
"""

from __future__ import annotations

import secrets

from flask import Flask

from api.dashboard import pages
from taskbeat.settings import Settings


def register_dashboard(app: Flask, settings: Settings) -> None:
    # Forked gunicorn workers inherit the key made here; separate hosts need the setting.
    app.secret_key = settings.secret_key or secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_NAME="taskbeat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.register_blueprint(pages.blueprint)
