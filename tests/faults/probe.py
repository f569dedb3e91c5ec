"""The fault suite's probe handler: its own record of what really ran, beside the database's.

Each attempt appends JSON lines to a journal file named in its params (one `os.write` on
an O_APPEND descriptor per line, so lines from several processes never interleave, and
the journal survives whatever fault the scenario makes to PostgreSQL or Redis):

- `start` when the attempt begins, with the process id (a scenario kills that process);
- `tick` every `TICK` seconds while it sleeps, so an attempt killed mid-run still shows
  when it was last alive;
- `done` when it finished successfully (its side effect: at most one per slot), or
  `stopped` when it was interrupted by an exception (a time limit, a warm stop).

Params: `journal` (path), `sleep` (seconds), `mode`: `ok`, `fail` (raise after the
sleep), `exit` (`os._exit` at once: a poison message), `overrun` (sleep, expecting the
time limit to stop it).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from taskbeat.handler import HandlerContext, handler

TICK = 0.1


class ProbeFailure(Exception):
    """What the probe raises in `fail` mode."""


def record(journal: str, event: str, context: HandlerContext) -> None:
    line = {
        "event": event,
        "task": context.task_id,
        "slot": context.scheduled_at.isoformat(),
        "attempt": context.attempt,
        "execution": context.execution_id,
        "pid": os.getpid(),
        "t": time.time(),
    }
    descriptor = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (json.dumps(line) + "\n").encode())
    finally:
        os.close(descriptor)


def _sleep_ticking(seconds: float, journal: str, context: HandlerContext) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(TICK, left))
        record(journal, "tick", context)


@handler("probe", description="Records its runs in a journal file (the fault suite's).")
def probe(params: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    journal, mode = str(params["journal"]), str(params.get("mode", "ok"))
    record(journal, "start", context)
    if mode == "exit":
        os._exit(17)
    try:
        _sleep_ticking(float(params.get("sleep", 0)), journal, context)
        if mode == "fail":
            raise ProbeFailure("the probe was told to fail")
    except BaseException:
        record(journal, "stopped", context)
        raise
    record(journal, "done", context)
    return {"probe": "done"}
