"""Schemathesis hooks for the contract runs (tests/e2e/test_contract.py), loaded with
SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks.

- Half the generated task bodies are made creatable (a registered handler, a schedule
  that parses), so the stateful phase follows the document's links from a created task
  to reading, changing, running and deleting it.
- With TASKBEAT_FUZZ_EXPECT set to `anonymous` or `viewer`, a check that every operation
  but health is denied as the document says: 401 without a key; 403 for a viewer's
  writes and for the audit trail.
"""

from __future__ import annotations

import os
import re
from typing import Any

import schemathesis

TASK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,199}$")
SCHEDULES = ("every 60 seconds", "@daily", "*/5 * * * *", "0 9 * * mon-fri", "@yearly")
READS = frozenset({"GET", "HEAD", "OPTIONS"})


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    operation = ctx.operation
    creating = operation is not None and operation.method.upper() == "POST"
    if not (creating and operation.path.endswith("/tasks") and isinstance(body, dict)):
        return body
    name = body.get("name")
    if not isinstance(name, str) or not TASK_NAME.match(name) or hash(name) % 2:
        return body
    fields = {"handler": "echo", "schedule": SCHEDULES[len(name) % len(SCHEDULES)]}
    # Times and zones that leave a task no run would make it a (documented) 422.
    return {**body, **fields, "timezone": "UTC", "start_at": None, "end_at": None}


@schemathesis.check
def denied_unless_allowed(ctx: Any, response: Any, case: Any) -> bool | None:
    expect = os.environ.get("TASKBEAT_FUZZ_EXPECT")
    if not expect or case.operation.path.endswith("/health"):
        return None
    status = response.status_code
    if expect == "anonymous":
        assert status == 401, f"{case.operation.label} answered {status} without a key"
        return True
    admin_only = case.method.upper() not in READS or case.operation.path.endswith("/audit")
    if admin_only:
        assert status == 403, f"{case.operation.label} answered {status} to a viewer"
    else:
        assert status not in (401, 403), f"{case.operation.label} refused a viewer's read"
    return True
