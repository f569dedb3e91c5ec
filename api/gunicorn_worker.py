"""gunicorn's thread worker, answering the requests it refuses itself (a request line or
headers over its limits, a malformed request) with problem+json instead of HTML."""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.http.errors import (
    ConfigurationProblem,
    ExpectationFailed,
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    LimitRequestHeaders,
    LimitRequestLine,
    ParseException,
    UnsupportedTransferCoding,
)
from gunicorn.workers.gthread import ThreadWorker

from api.problems import PROBLEM_TYPE

_REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (LimitRequestLine, 414, "URI too long"),
    (LimitRequestHeaders, 431, "Request header fields too large"),
)


# gunicorn's own answers to these are not the client's fault, or not a 400: keep them.
_NOT_CLIENT_ERRORS = (
    ConfigurationProblem,
    ExpectationFailed,
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    UnsupportedTransferCoding,
)


class ProblemWorker(ThreadWorker):  # type: ignore[misc]
    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: Exception) -> None:
        if not isinstance(exc, ParseException) or isinstance(exc, _NOT_CLIENT_ERRORS):
            super().handle_error(req, client, addr, exc)
            return
        status, title = next(
            ((code, text) for kind, code, text in _REFUSALS if isinstance(exc, kind)),
            (400, "Bad request"),
        )
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = json.dumps(
            {
                "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
                "title": title,
                "status": status,
                "detail": str(exc) or title,
            }
        ).encode()
        head = (
            f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")
