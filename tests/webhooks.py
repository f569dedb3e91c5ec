"""A webhook receiver on loopback for the alert tests: records each POST, answers as told."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # sent with each answer
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/taskbeat"

    def signed_correctly(self, call: dict[str, Any], secret: str) -> bool:
        headers = call["headers"]
        signed = f"{headers['X-Taskbeat-Timestamp']}.".encode() + call["body"]
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return bool(headers["X-Taskbeat-Signature"] == f"sha256={expected}")


@contextmanager
def receiving() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.calls.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(found.status)
            for name, value in found.headers.items():
                self.send_header(name, value)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.port = server.server_address[1]
    # A short poll: shutdown() waits for one, and each test stops a server.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
