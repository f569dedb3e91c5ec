"""Reading request bodies and query strings into validated models.

JSON is parsed strictly (no NaN or Infinity), and no string may hold a NUL character,
which PostgreSQL cannot store: both are refused here, naming where they were.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

from api.problems import BadRequest
from taskbeat.errors import InvalidInput

Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model], *, optional: bool = False) -> Model:
    """The body validated as `model`; an empty body is `{}` when `optional`."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return model.model_validate({})
        raise BadRequest("the request needs a JSON object body")
    data = _parse(raw)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    _refuse_nul(data, "")
    return model.model_validate(data)


def query(model: type[Model]) -> Model:
    """The query string validated as `model` (a repeated parameter keeps its last value)."""
    values: dict[str, Any] = {key: request.args.getlist(key)[-1] for key in request.args}
    _refuse_nul(values, "")
    return model.model_validate(values)


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _refuse_nul(value: Any, where: str) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise InvalidInput(where or "body", "must not contain a NUL character (\\u0000)")
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            _refuse_nul(key, path)
            _refuse_nul(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{where}.{index}")
