"""/api/v1/handlers: what tasks can run, with each handler's params schema."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag

from api.openapi import BEARER, GUARDED, problems
from api.services import services
from taskbeat.views import HandlerList

blueprint = APIBlueprint(
    "handlers",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="handlers", description="The code tasks can run")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)


@blueprint.get("/handlers", responses={200: HandlerList}, operation_id="list_handlers")
def list_handlers() -> Response:
    """Registered handlers, with their params JSON schema and default schedule."""
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
