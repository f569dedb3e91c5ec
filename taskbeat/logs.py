"""Logging set-up, called by entry points only, and the run a log line is about.

`configure_logging(level, "json")` makes every line one JSON object. A line logged
while a run is in progress (`run_context`) carries its `task`, `execution_id` and
`attempt`, in either format, whoever logs it: the worker, the handler, a library.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s%(run)s"
RUN_FIELDS = ("task", "execution_id", "attempt")

_run: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "taskbeat_run", default=None
)


@contextmanager
def run_context(task: str, execution_id: int, attempt: int) -> Iterator[None]:
    """Log lines inside the block are about this run."""
    token = _run.set({"task": task, "execution_id": execution_id, "attempt": attempt})
    try:
        yield
    finally:
        _run.reset(token)


class RunFilter(logging.Filter):
    """Puts the current run's fields on each record (as attributes, and as `run`, a
    short suffix for the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = _run.get()
        for name in RUN_FIELDS:
            if run is not None and not hasattr(record, name):
                setattr(record, name, run[name])
        if run is None:
            record.run = ""
        else:
            record.run = (
                f" [task={run['task']} execution={run['execution_id']} attempt={run['attempt']}]"
            )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name in RUN_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                body[name] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RunFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Python's warnings (a library's deprecation, Celery's root warning) become lines too.
    logging.captureWarnings(fmt == "json")
