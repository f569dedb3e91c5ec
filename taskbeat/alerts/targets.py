"""Where a notice may be sent: an http(s) URL whose host the operator allowed.

Checked when a task is saved (a 422 naming `webhook_url`) and again before each send
(the allow-list may have changed since). No proxy and no redirect is followed, so the
host checked is the host called.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from taskbeat.errors import InvalidInput


def check_target(url: str, allowed_hosts: Iterable[str], field: str = "webhook_url") -> str:
    """`url` if it may be called; InvalidInput naming `field` otherwise."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - reading it validates it (ValueError when out of range)
    except ValueError as exc:
        raise InvalidInput(field, f"is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(field, "must be an http:// or https:// URL with a host")
    allowed = {name.strip().lower() for name in allowed_hosts}
    if host not in allowed:
        hint = ", ".join(sorted(allowed)) or "none: set TASKBEAT_WEBHOOK_ALLOWED_HOSTS"
        raise InvalidInput(field, f"host {host!r} is not on the webhook allow-list ({hint})")
    return url
