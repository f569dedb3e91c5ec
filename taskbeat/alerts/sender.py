"""The alert sender: a thread in each scheduler process, never in a request.

1. Lease the deliveries due now (SKIP LOCKED: schedulers side by side take disjoint
   rows); each attempt is counted and the row held for `LEASE` seconds.
2. Commit, then POST each one's JSON body, signed, to its target: the task's webhook or
   the default in settings, if its host is on the allow-list.
3. Record the answer: 2xx is sent; anything else is tried again after a backoff, until
   `webhook_max_attempts`; a delivery with nowhere it may go fails at once.

The signature: `X-Taskbeat-Signature: sha256=<hex>`, the HMAC-SHA256 under
TASKBEAT_WEBHOOK_SECRET of `<X-Taskbeat-Timestamp>.<body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from taskbeat import __version__, store
from taskbeat.alerts.targets import check_target
from taskbeat.clock import Clock
from taskbeat.errors import InvalidInput
from taskbeat.executions.backoff import RetryPolicy, retry_delay
from taskbeat.settings import Settings
from taskbeat.status import DeliveryStatus
from taskbeat.store.alerts import DueDelivery

log = logging.getLogger(__name__)

LEASE = 60.0  # seconds a sender holds a delivery it is sending
BATCH = 50
# 10 s, 30 s, 90 s, ... up to an hour between attempts.
BACKOFF = RetryPolicy(max_retries=0, delay=10.0, factor=3.0, cap=3600.0, jitter=0.1)


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, None when no answer came
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere: it is an answer, not a place to go."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy from the environment either: the host checked is the host called.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class AlertSender:
    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], clock: Clock
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._settings.webhook_timeout + 5)

    def send_due(self) -> int:
        """One round: send what is due; how many were sent."""
        now = self._clock()
        with self._sessions.begin() as session:
            due = store.alerts.lease_due(session, now, now + timedelta(seconds=LEASE), BATCH)
        return sum(self._deliver(delivery) for delivery in due)

    def _run(self) -> None:
        while not self._stopping.wait(self._settings.alert_interval):
            try:
                self.send_due()
            except SQLAlchemyError as exc:
                log.warning("alert sender: the database is unavailable (%s)", exc)

    def _deliver(self, delivery: DueDelivery) -> bool:
        try:
            url = self._target(delivery)
        except InvalidInput as exc:
            self._record(delivery, Answer(None, exc.message), final=True)
            return False
        answer = self._post(url, delivery)
        final = answer.ok or delivery.attempts >= self._settings.webhook_max_attempts
        self._record(delivery, answer, final=final)
        return answer.ok

    def _target(self, delivery: DueDelivery) -> str:
        url = delivery.url or self._settings.webhook_url
        if url is None:
            raise InvalidInput("webhook_url", "no webhook: set the task's or TASKBEAT_WEBHOOK_URL")
        if self._settings.webhook_secret is None:
            raise InvalidInput("webhook_secret", "TASKBEAT_WEBHOOK_SECRET is not set")
        return check_target(url, self._settings.webhook_allowed_hosts)

    def _post(self, url: str, delivery: DueDelivery) -> Answer:
        assert self._settings.webhook_secret is not None
        body = json.dumps(delivery.payload).encode()
        timestamp = str(int(self._clock().timestamp()))
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", f"taskbeat/{__version__}")
        request.add_header("X-Taskbeat-Event", str(delivery.payload.get("event")))
        request.add_header("X-Taskbeat-Delivery", str(delivery.id))
        request.add_header("X-Taskbeat-Timestamp", timestamp)
        request.add_header(
            "X-Taskbeat-Signature", signature(self._settings.webhook_secret, timestamp, body)
        )
        try:
            with _OPENER.open(request, timeout=self._settings.webhook_timeout) as response:
                return Answer(response.status)
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, f"HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}")

    def _record(self, delivery: DueDelivery, answer: Answer, *, final: bool) -> None:
        now = self._clock()
        if answer.ok:
            status, retry_at = DeliveryStatus.SENT, None
        elif final:
            status, retry_at = DeliveryStatus.FAILED, None
            log.error("alert %s not delivered: %s", delivery.id, answer.error)
        else:
            status = DeliveryStatus.PENDING
            retry_at = now + timedelta(seconds=retry_delay(BACKOFF, delivery.attempts))
            log.warning("alert %s: %s; trying again at %s", delivery.id, answer.error, retry_at)
        with self._sessions.begin() as session:
            store.alerts.mark(
                session,
                delivery.id,
                status,
                now=now,
                next_attempt_at=retry_at,
                response_status=answer.status,
                error=answer.error,
            )
