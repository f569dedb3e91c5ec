"""The audit trail: every change made through the API and every refused request is
written down (key, role, action, target, request id, time, outcome); admins read it at
GET /api/v1/audit, newest first.

Requests throttled with a 429 are not written: the throttle exists so that a flood of
bad keys costs the database nothing.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, g, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from api.auth import API_PREFIX, READ_METHODS
from api.openapi import BEARER, GUARDED, QueryModel, WholeNumber, problems
from api.services import services
from taskbeat import store
from taskbeat.limits import MAX_ID
from taskbeat.store.audit import AuditRecord
from taskbeat.views import AuditPage

log = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DENIED = frozenset({401, 403})

blueprint = APIBlueprint(
    "audit",
    __name__,
    url_prefix="/api/v1",
    abp_tags=[Tag(name="audit", description="Who changed what, and what was refused")],
    abp_security=BEARER,
    abp_responses=problems(*GUARDED),
)


class AuditQuery(QueryModel):
    limit: WholeNumber = Field(default=50, ge=1, le=500)
    cursor: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_ID, description="next_cursor of the last page"
    )


@blueprint.get("/audit", responses={200: AuditPage}, operation_id="list_audit")
def list_audit(query: AuditQuery) -> Response:
    """The audit trail, newest first (admin keys only)."""
    with services().sessions() as session:
        rows = store.audit.list_entries(session, before_id=query.cursor, limit=query.limit)
        items = [
            {
                "id": row.id,
                "at": row.at.isoformat(),
                "key_id": row.key_id,
                "role": row.role.value if row.role else None,
                "action": row.action,
                "method": row.method,
                "target": row.target,
                "status": row.status,
                "outcome": row.outcome,
                "request_id": row.request_id,
            }
            for row in rows
        ]
    next_cursor = rows[-1].id if len(rows) == query.limit else None
    return jsonify(items=items, limit=query.limit, next_cursor=next_cursor)


def install_audit(app: Flask) -> None:
    app.before_request(_name_request)
    app.after_request(_record)


def _name_request() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex


def _record(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if not request.path.startswith(API_PREFIX):
        return response
    if request.method in READ_METHODS and response.status_code not in DENIED:
        return response
    if response.status_code == 429:
        return response
    try:
        with services().sessions.begin() as session:
            store.audit.add_entry(session, _entry(response))
    except SQLAlchemyError:
        log.exception("could not write the audit entry of %s %s", request.method, request.path)
    return response


def _entry(response: Response) -> AuditRecord:
    key = g.get("api_key")
    status = response.status_code
    outcome = "ok" if status < 400 else "denied" if status in DENIED else "failed"
    return AuditRecord(
        at=services().clock(),
        key_id=key.id if key else None,
        role=key.role if key else None,
        action=(request.endpoint or "unknown").rsplit(".", 1)[-1][:100],
        method=request.method[:10],
        target=_target(response),
        status=status,
        outcome=outcome,
        request_id=g.get("request_id", ""),
    )


def _target(response: Response) -> str | None:
    args = request.view_args or {}
    for name in ("ref", "execution_id"):
        if name in args:
            return _storable(str(args[name]))
    location = response.headers.get("Location")
    return _storable(location.rsplit("/", 1)[-1]) if location else None


def _storable(text: str) -> str:
    """A path as a client sent it, as text any database keeps."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "\\x00")[:200]
