"""Signing in to the dashboard with an API key, and CSRF protection for its forms.

The key is checked once, by the same function the API's bearer check uses
(`taskbeat.apikeys.authenticate`); the signed session cookie then holds only the key's
id, and each request checks that key is still live, so revoking a key signs it out.
Every POST must carry the session's CSRF token in its form.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Response, abort, g, redirect, request, session, url_for

from api.auth import identify
from api.services import services
from taskbeat.apikeys import live_key
from taskbeat.status import ApiRole

OPEN_ENDPOINTS = frozenset({"dashboard.sign_in", "dashboard.static"})


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        abort(400, "the form's CSRF token is missing or stale: reload the page and try again")


def require_signed_in() -> Response | None:
    """A before-request hook: CSRF on every POST; then a live key, or the sign-in page."""
    if request.method == "POST":
        check_csrf()
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    key_id = session.get("key_id")
    key = None
    if isinstance(key_id, int):
        with services().sessions() as db:
            key = live_key(db, key_id)
    if key is None:
        session.pop("key_id", None)
        return redirect(url_for("dashboard.sign_in", next=request.full_path))  # type: ignore[return-value]
    g.dashboard_role = key.role
    g.dashboard_key = key.name
    return None


def sign_in_with(plaintext: str) -> bool:
    key = identify(plaintext.strip())
    if key is None:
        return False
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session["key_id"] = key.id
    return True


def sign_out() -> None:
    session.clear()


def is_admin() -> bool:
    return getattr(g, "dashboard_role", None) is ApiRole.ADMIN


def require_admin() -> None:
    if not is_admin():
        abort(403, "this needs an admin key")


def template_values() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "is_admin": is_admin(),
        "key_name": getattr(g, "dashboard_key", None),
    }
