"""Every error leaves as application/problem+json (RFC 9457), naming the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from taskbeat.errors import Conflict, HandlerNotFound, InvalidInput, NotFound

log = logging.getLogger(__name__)
PROBLEM_TYPE = "https://taskbeat.dev/problems/"


class BadRequest(Exception):
    """The request itself is malformed (not JSON, not an object): HTTP 400."""


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    slug = title.lower().replace(" ", "-")
    body = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail}
    response = jsonify({**body, **extra})
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def invalid(errors: list[dict[str, str]]) -> Response:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid input", detail, errors=errors)


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic's errors as [{field, message}], the field as a dotted path."""
    errors = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "body"
        errors.append({"field": prefix + path, "message": error["msg"]})
    return errors


def _validation(exc: ValidationError) -> Response:
    return invalid(field_errors(exc))


def _invalid(exc: InvalidInput) -> Response:
    return invalid([{"field": exc.field, "message": exc.message}])


def _no_handler(exc: HandlerNotFound) -> Response:
    return invalid([{"field": "handler", "message": str(exc)}])


def _not_found(exc: NotFound) -> Response:
    return problem(404, "Not found", str(exc))


def _conflict(exc: Conflict) -> Response:
    return problem(409, "Conflict", str(exc))


def _integrity(exc: IntegrityError) -> Response:
    # Checks run before writes; this is the race they cannot see (two requests at once).
    return problem(409, "Conflict", "the change conflicts with another one made at the same time")


def _bad_request(exc: BadRequest) -> Response:
    return problem(400, "Bad request", str(exc))


def _http(exc: HTTPException) -> Response:
    response = problem(exc.code or 500, exc.name, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name in ("Allow", "WWW-Authenticate"):
            response.headers[name] = value
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return problem(500, "Internal error", "the server failed; the error is in its log")


_HANDLERS: tuple[tuple[type[Exception], Any], ...] = (
    (ValidationError, _validation),
    (InvalidInput, _invalid),
    (HandlerNotFound, _no_handler),
    (NotFound, _not_found),
    (Conflict, _conflict),
    (IntegrityError, _integrity),
    (BadRequest, _bad_request),
    (HTTPException, _http),
    (Exception, _unexpected),
)


def register_problem_handlers(app: Flask) -> None:
    for error, handler in _HANDLERS:
        app.register_error_handler(error, handler)
