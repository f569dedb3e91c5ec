"""Reading request bodies and query strings into validated models."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

from api.problems import BadRequest

Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model], *, optional: bool = False) -> Model:
    """The body validated as `model`; an empty body is `{}` when `optional`."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return model.model_validate({})
        raise BadRequest("the request needs a JSON object body")
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise BadRequest("the body is not valid JSON")
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return model.model_validate(data)


def query(model: type[Model]) -> Model:
    """The query string validated as `model` (a repeated parameter keeps its last value)."""
    values: dict[str, Any] = {key: request.args.getlist(key)[-1] for key in request.args}
    return model.model_validate(values)
