"""/api/v1/handlers: what tasks can run, with each handler's params schema."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from api.services import services

blueprint = Blueprint("handlers", __name__)


@blueprint.get("/handlers")
def list_handlers() -> Response:
    items = [
        {
            "name": spec.name,
            "description": spec.description,
            "params_schema": spec.params_schema(),
            "default_schedule": spec.default_schedule,
            "is_async": spec.is_async,
        }
        for spec in services().registry
    ]
    return jsonify(items=items)
