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

import hmac
import secrets

from flask import Flask

from api.dashboard import pages
from taskbeat.settings import Settings


def register_dashboard(app: Flask, settings: Settings) -> None:
    app.secret_key = session_secret(settings)
    app.config.update(
        SESSION_COOKIE_NAME="taskbeat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.register_blueprint(pages.blueprint)


def session_secret(settings: Settings) -> str:
    """What signs the session cookie: TASKBEAT_SECRET_KEY; else derived from
    TASKBEAT_ADMIN_KEY, which every process of a deployment shares (whoever holds it
    could do anything anyway); else made here, shared by the gunicorn workers forked
    from this process only."""
    if settings.secret_key is not None:
        return settings.secret_key
    if settings.admin_key is not None:
        digest = hmac.new(settings.admin_key.encode(), b"taskbeat dashboard sessions", "sha256")
        return digest.hexdigest()
    return secrets.token_hex(32)
