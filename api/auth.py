"""Bearer API keys: any live key reads, only an admin key writes (and reads the audit).

Every request under /api/ but the public ones (health, the OpenAPI document and its
docs page) is checked here, before routing: an unknown path without a key is a 401,
not a 404. A key once verified is kept for CACHE_SECONDS, so the slow hash runs about
once per key per process; a revoked key stops working within that time. A client
(by address) that fails to authenticate `auth_failures_per_minute` times gets 429s
until its minute is over.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, Response, current_app, g, request

from api.openapi import PUBLIC_ENDPOINTS as DOC_ENDPOINTS
from api.problems import problem
from api.services import services
from taskbeat.apikeys import KeyIdentity, authenticate
from taskbeat.status import ApiRole

API_PREFIX = "/api/"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset({"health.health", *DOC_ENDPOINTS})
ADMIN_READS = frozenset({"audit.list_audit"})  # reads that show more than a viewer may see
CACHE_SECONDS = 30.0
WINDOW = timedelta(minutes=1)
EXTENSION = "taskbeat.auth"


@dataclass
class KeyGuard:
    """Per API process: keys verified lately, and failed attempts per client."""

    failures_per_window: int
    _verified: dict[str, tuple[KeyIdentity, datetime]] = field(default_factory=dict)
    _failures: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def identify(self, token: str, now: datetime) -> KeyIdentity | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            cached = self._verified.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        with services().sessions.begin() as session:
            identity = authenticate(session, token, now)
        with self._lock:
            if identity is None:
                self._verified.pop(digest, None)
            else:
                self._verified[digest] = (identity, now + timedelta(seconds=CACHE_SECONDS))
        return identity

    def retry_after(self, client: str, now: datetime) -> int:
        """Seconds this client must wait, or 0 if it may try."""
        with self._lock:
            started, count = self._failures.get(client, (now, 0))
        if now - started >= WINDOW or count < self.failures_per_window:
            return 0
        return max(1, int((started + WINDOW - now).total_seconds() + 0.999))

    def failed(self, client: str, now: datetime) -> None:
        with self._lock:
            started, count = self._failures.get(client, (now, 0))
            if now - started >= WINDOW:
                started, count = now, 0
            self._failures[client] = (started, count + 1)


def install_auth(app: Flask, failures_per_minute: int) -> None:
    app.extensions[EXTENSION] = KeyGuard(failures_per_minute)
    app.before_request(check_api_key)


def check_api_key() -> Response | None:
    """A before-request hook: None lets the request through, a response stops it."""
    if not request.path.startswith(API_PREFIX) or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    guard: KeyGuard = current_app.extensions[EXTENSION]
    now = services().clock()
    client = request.remote_addr or "unknown"
    wait = guard.retry_after(client, now)
    if wait:
        response = problem(429, "Too many requests", "too many failed attempts to authenticate")
        response.headers["Retry-After"] = str(wait)
        return response
    token = _bearer_token()
    identity = guard.identify(token, now) if token else None
    if identity is None:
        guard.failed(client, now)
        return _unauthorized(
            "the API key is not valid or was revoked"
            if token
            else "send an API key as 'Authorization: Bearer <key>'"
        )
    g.api_key = identity
    return _forbidden(identity.role)


def identify(token: str) -> KeyIdentity | None:
    """The live key `token` is, or None: for the dashboard's sign-in and `/metrics`, through
    the same cache and failed-attempt throttle as a bearer key (a throttled client is
    refused without a check)."""
    guard: KeyGuard = current_app.extensions[EXTENSION]
    now = services().clock()
    client = request.remote_addr or "unknown"
    if guard.retry_after(client, now):
        return None
    identity = guard.identify(token, now)
    if identity is None:
        guard.failed(client, now)
    return identity


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _forbidden(role: ApiRole) -> Response | None:
    if role is ApiRole.ADMIN:
        return None
    if request.method in READ_METHODS and request.endpoint not in ADMIN_READS:
        return None
    need = "this needs admin" if request.method in READ_METHODS else "writing needs admin"
    return problem(403, "Forbidden", f"a {role.value} key may only read; {need}")


def _unauthorized(detail: str) -> Response:
    response = problem(401, "Unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="taskbeat"'
    return response
