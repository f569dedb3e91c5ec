"""Strict reading of what a request carries, before any model sees it.

Every JSON body is parsed here (`StrictRequest.get_json`, which the OpenAPI layer calls
too): JSON only (no NaN, no Infinity, no number beyond a double), an object, nested at
most MAX_JSON_DEPTH levels, and no string the databases cannot store (a NUL character,
a lone surrogate). Query strings get the same string check. Each refusal names where
the bad value was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Request, request
from gunicorn.http.errors import ParseException

from api.auth import PUBLIC_ENDPOINTS
from api.problems import BadRequest
from taskbeat.errors import InvalidInput
from taskbeat.limits import json_problem, storable_text

_UNSET = object()


class StrictRequest(Request):
    """A Flask request whose JSON is read strictly, whatever its Content-Type (curl's
    `-d` sends a form type). An empty body reads as None."""

    _strict_json: Any = _UNSET

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if self._strict_json is _UNSET:
            self._strict_json = _json_object(self._body())
        return self._strict_json

    def _body(self) -> bytes:
        with _reading_the_body():
            return self.get_data(cache=True)

    def _load_form_data(self) -> None:  # the dashboard's forms
        with _reading_the_body():
            super()._load_form_data()


@contextmanager
def _reading_the_body() -> Iterator[None]:
    try:
        yield
    except (ParseException, OSError) as exc:
        # gunicorn reads a chunked body as it is asked for it: a chunk size that is not
        # hex, a chunk without its CRLF, a body cut short (NoMoreData is an OSError).
        raise BadRequest(f"the request body could not be read: {exc}") from None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    data = _parse(raw)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    problem = json_problem(data)
    if problem is not None:
        raise InvalidInput(problem[0] or "body", problem[1])
    return data


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a double")
    return value


def check_query() -> None:
    """A before-request hook: the query string is UTF-8, and no query value holds what
    the databases cannot store."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    try:  # Werkzeug would keep bytes that are not UTF-8 as their %XX text, and go on
        unquote_to_bytes(request.query_string).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the query string is not UTF-8 once percent-decoded") from None
    for key, value in request.args.items(multi=True):
        for text in (key, value):
            problem = storable_text(text)
            if problem is not None:
                raise InvalidInput(key, problem)
