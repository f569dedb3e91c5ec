"""Generated requests for the read-back fuzz test: task bodies with odd but valid JSON
(huge integers, extreme floats, any Unicode), malformed ones, and changes."""

from __future__ import annotations

import random
import string
from datetime import datetime
from typing import Any

ODD_TEXT = [
    "",
    "é",
    "🙂",
    "\u2028",
    "\u202e",
    '"\\',
    "<script>",
    "\t\n",
    "\U0001d518\U0001d52b\U0001d526",
    "a" * 300,
]
ODD_NUMBERS: list[Any] = [0, -0.0, 2**63, -(2**63) - 1, 10**40, 1e308, -1e308, 5e-324, 0.1]
# Bodies that are not what the API takes: each must be a 4xx, never a 5xx.
MALFORMED = [
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "params": {"x": 1e309}}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "params": {"x": -1E400}}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "params": {"x": NaN}}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "params": '
    + b"[" * 40
    + b"]" * 40
    + b"}",
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "description": "\\ud800"}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "priority": "3"}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "timezone": "right/UTC"}',
    b'{"name": "n", "handler": "echo", "schedule": "@daily", "description": "a\\u0000b"}',
    b"[1, 2]",
    b"\xff\xfe",
    b'{"name": ',
]


def json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 6 else 5)
    if kind == 0:
        return rng.choice(ODD_NUMBERS)
    if kind == 1:
        return rng.choice([True, False, None])
    if kind == 2:
        return rng.choice(ODD_TEXT) + "".join(rng.choices(string.printable, k=rng.randrange(8)))
    if kind == 3:
        return rng.randint(-(2**70), 2**70)
    if kind == 4:
        return rng.uniform(-1e6, 1e6)
    if kind in (5, 6):
        return {_key(rng): json_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _key(rng: random.Random) -> str:
    return rng.choice(ODD_TEXT) + str(rng.randrange(1000))


def task_body(rng: random.Random, number: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"fuzz-{number}",
        "handler": "echo",
        "schedule": rng.choice(["every 90 seconds", "@daily", "*/7 * * * *", "30 2 * * *"]),
        "params": {_key(rng): json_value(rng) for _ in range(rng.randrange(5))},
    }
    optional: dict[str, Any] = {
        "description": rng.choice(ODD_TEXT),
        "timezone": rng.choice(["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu"]),
        "max_retries": rng.randrange(101),
        "retry_delay": rng.choice([0, 0.5, 604800]),
        "retry_jitter": rng.random(),
        "timeout": rng.choice([None, 0.001, 3600]),
        "priority": rng.randrange(10),
        "tags": [f"t{rng.randrange(5)}"],
        "start_at": datetime(2026, rng.randint(1, 12), 1, 3, 30).isoformat(),
        "overlap": rng.choice(["skip", "allow", "queue_one"]),
        "misfire": rng.choice(["run_once", "skip", "run_all"]),
    }
    for name in rng.sample(list(optional), rng.randrange(len(optional))):
        body[name] = optional[name]
    return body
