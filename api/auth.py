"""Bearer API keys: any live key reads, only an admin key writes."""

from __future__ import annotations

from flask import Response, g, request

from api.problems import problem
from api.services import services
from taskbeat.apikeys import authenticate
from taskbeat.status import ApiRole

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_ENDPOINTS = frozenset({"v1.health.health"})


def check_api_key() -> Response | None:
    """A before-request hook: None lets the request through, a response stops it."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    with services().sessions() as session:
        key = authenticate(session, token.strip())
    if key is None:
        return _unauthorized("the API key is not valid or was revoked")
    g.api_role = key.role
    if request.method not in READ_METHODS and key.role is not ApiRole.ADMIN:
        return problem(403, "Forbidden", f"a {key.role.value} key may only read; this needs admin")
    return None


def _unauthorized(detail: str) -> Response:
    response = problem(401, "Unauthorized", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="taskbeat"'
    return response
