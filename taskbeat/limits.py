"""The largest values taskbeat stores, on every database, and the checks that keep a
JSON value storable.

A bigger number in a request is refused (or not found) instead of reaching the driver.
Kept apart from the models so the field description (and the API client) can read them
without SQLAlchemy.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_ID = 2**63 - 1  # BIGINT ids
MAX_INT = 2**31 - 1  # INTEGER counters and bounds

MAX_BODY_BYTES = 1024 * 1024  # a request body, whatever it holds
MAX_PARAMS_BYTES = 64 * 1024  # a task's params (or a run's), as compact JSON
# Arrays and objects inside one another. Far below what Python's recursion limit, the
# database drivers and the worker's result handling can all take.
MAX_JSON_DEPTH = 32


def json_problem(value: Any) -> tuple[str, str] | None:
    """Why `value` (parsed JSON) cannot be stored and read back as it is, or None:
    (dotted path below `value`, message). Checked without recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        found = _scalar_problem(item)
        if found is not None:
            return where, found
        children = _children(item, where)
        if children and depth >= MAX_JSON_DEPTH:
            return where, f"nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
        stack.extend((child, path, depth + 1) for child, path in children)
    return None


def nested_too_deeply(value: Any) -> bool:
    """Whether `value` nests arrays and objects deeper than MAX_JSON_DEPTH (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        if children and depth >= MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def storable_text(text: str) -> str | None:
    """Why a string cannot be stored on every database, or None."""
    if "\x00" in text:
        return "must not contain a NUL character (\\u0000)"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (\\ud800-\\udfff)"
    return None


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, float) and not math.isfinite(item):
        return "must be a finite number (JSON has no NaN or Infinity)"
    if isinstance(item, str):
        return storable_text(item)
    return None


def _children(item: Any, where: str) -> list[tuple[Any, str]]:
    prefix = f"{where}." if where else ""
    if isinstance(item, dict):
        keys = [(key, f"{prefix}{key}") for key in item if isinstance(key, str)]
        return keys + [(child, f"{prefix}{key}") for key, child in item.items()]
    if isinstance(item, list):
        return [(child, f"{prefix}{index}") for index, child in enumerate(item)]
    return []
