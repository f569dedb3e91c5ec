"""What a run leaves behind: its log lines and its result, each capped in size."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from taskbeat.limits import nested_too_deeply

HANDLER_LOGGER = "taskbeat.handler"
# One for every capture: a formatter keeps nothing of a record, and making one checks
# its format with a regular expression.
_LINE_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(message)s")


class LineCapture(logging.Handler):
    """Keeps formatted log lines, up to a limit, and counts the ones it dropped."""

    def __init__(self, max_lines: int) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(_LINE_FORMAT)
        self.max_lines = max_lines
        self.lines: list[str] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < self.max_lines:
            self.lines.append(storable(self.format(record)))
        else:
            self.dropped += 1

    def result_lines(self) -> list[str]:
        if self.dropped:
            return [*self.lines, f"... {self.dropped} more lines dropped"]
        return list(self.lines)


def run_logger(handler_name: str, capture: LineCapture) -> logging.Logger:
    """A logger for one run. It is not registered with `logging`, so one per run leaks
    nothing. Every line is kept with the execution; a line also reaches the worker's own
    log when the worker's log level lets it through."""
    logger = logging.Logger(f"{HANDLER_LOGGER}.{handler_name}", level=logging.DEBUG)
    logger.addHandler(capture)
    logger.addHandler(_to_worker_log())
    logger.propagate = False
    return logger


@functools.cache
def _to_worker_log() -> _ToWorkerLog:
    """One per process: it keeps nothing of a run's (a handler costs a lock to make)."""
    return _ToWorkerLog(logging.getLogger(HANDLER_LOGGER))


class _ToWorkerLog(logging.Handler):
    """Hands a run's line to the worker's logger, at the worker's own level."""

    def __init__(self, worker_log: logging.Logger) -> None:
        super().__init__(level=logging.DEBUG)
        self._worker_log = worker_log

    def emit(self, record: logging.LogRecord) -> None:
        if self._worker_log.isEnabledFor(record.levelno):
            self._worker_log.handle(record)


def storable(text: str) -> str:
    """PostgreSQL text cannot hold a NUL character, nor UTF-8 a lone surrogate: show
    them instead of failing."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()


def capped_result(value: Any, max_bytes: int) -> Any:
    """The value as JSON any database keeps: values JSON lacks become strings (objects,
    NaN and infinities), NULs are shown escaped, and a value over `max_bytes`, or nested
    deeper than MAX_JSON_DEPTH, becomes a truncated preview. Whatever a handler returns
    (even a structure too deep to encode, or one that contains itself), the run is
    recorded."""
    if value is None or isinstance(value, bool):  # most handlers return nothing
        return value
    try:
        text = json.dumps(value, default=str)
        parsed = json.loads(text, parse_constant=str)
    except (RecursionError, ValueError) as exc:  # too deep to encode; circular
        return {"truncated": True, "unstorable": f"{type(exc).__name__}: {exc}"[:500]}
    size = len(text.encode())
    if size > max_bytes or nested_too_deeply(parsed):
        preview = storable(text[: max_bytes // 2])
        return {"truncated": True, "size": size, "preview": preview}
    return _storable_json(parsed)


def _storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [_storable_json(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): _storable_json(item) for key, item in value.items()}
    return value


def capped_text(text: str, max_chars: int) -> str:
    text = storable(text)
    if len(text) <= max_chars:
        return text
    keep = max_chars // 2
    return f"{text[:keep]}\n... {len(text) - 2 * keep} characters cut ...\n{text[-keep:]}"
