"""Failure alerts: notices written with the outcome, sent signed to a loopback receiver,
retried, and never sent anywhere the allow-list does not name."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from taskbeat import store
from taskbeat.alerts.sender import AlertSender
from taskbeat.errors import InvalidInput
from taskbeat.executions.lifecycle import ErrorInfo, Outcome
from taskbeat.models import AlertDelivery
from taskbeat.status import AlertEvent, DeliveryStatus, ExecutionStatus
from taskbeat.tasks.fields import TaskDefinition
from taskbeat.tasks.operations import create_task
from tests.runs import claimed, reload, settle
from tests.webhooks import Receiver, receiving

SECRET = "webhook-secret-0123456789"
FAILED = Outcome(ExecutionStatus.FAILED, error=ErrorInfo("ValueError", "bad input"))
SUCCEEDED = Outcome(ExecutionStatus.SUCCEEDED, result={"ok": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture
def alerting(settings, receiver):
    return settings.model_copy(
        update={"webhook_allowed_hosts": ("127.0.0.1",), "webhook_secret": SECRET}
    )


def new_task(sessions, registry, clock, hosts=("127.0.0.1",), **fields):
    values = {"name": "nightly", "handler": "echo", "schedule": "@daily", **fields}
    with sessions.begin() as session:
        return create_task(
            session,
            TaskDefinition.model_validate(values),
            registry,
            now=clock(),
            default_queue="q",
            webhook_hosts=hosts,
        )


def run_once(sessions, run_now, clock, task, outcome: Outcome) -> None:
    execution = run_now(task)
    settle(sessions, claimed(sessions, execution.id, clock()), outcome, clock())


def deliveries(sessions) -> list[AlertDelivery]:
    with sessions() as session:
        return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


def test_a_last_failure_and_the_next_success_each_queue_one_notice(
    sessions, registry, clock, run_now, receiver
):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    run_once(sessions, run_now, clock, task, FAILED)
    run_once(sessions, run_now, clock, task, SUCCEEDED)
    run_once(sessions, run_now, clock, task, SUCCEEDED)  # no streak to end: no notice
    found = deliveries(sessions)
    assert [(d.event, d.status, d.url) for d in found] == [
        (AlertEvent.FAILED, DeliveryStatus.PENDING, receiver.url),
        (AlertEvent.FAILED, DeliveryStatus.PENDING, receiver.url),
        (AlertEvent.RECOVERED, DeliveryStatus.PENDING, receiver.url),
    ]
    assert found[0].payload["execution"]["error"] == "bad input"
    assert found[1].payload["consecutive_failures"] == 2
    assert found[2].payload["failures_before"] == 2
    assert found[2].payload["execution"]["status"] == "succeeded"


def test_a_failure_with_a_retry_left_queues_nothing(sessions, registry, clock, run_now):
    task = new_task(sessions, registry, clock, max_retries=1)
    run_once(sessions, run_now, clock, task, FAILED)
    assert deliveries(sessions) == []


def test_pause_on_failure_pauses_the_task_once_its_retries_are_used_up(
    sessions, registry, clock, run_now
):
    task = new_task(sessions, registry, clock, schedule="every 60 seconds", pause_on_failure=True)
    run_once(sessions, run_now, clock, task, FAILED)
    paused = reload(sessions, task)
    assert not paused.enabled and paused.next_run_at is None
    assert paused.version == task.version + 1


def test_the_sender_posts_a_signed_notice_and_marks_it_sent(
    sessions, registry, clock, run_now, receiver, alerting
):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    assert AlertSender(alerting, sessions, clock).send_due() == 1
    [call] = receiver.calls
    headers = call["headers"]
    signed = f"{headers['X-Taskbeat-Timestamp']}.".encode() + call["body"]
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Taskbeat-Signature"] == f"sha256={expected}"
    assert receiver.signed_correctly(call, SECRET)
    assert not receiver.signed_correctly(call, SECRET + "x")
    assert headers["X-Taskbeat-Event"] == "failed"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(call["body"])["task"]["name"] == "nightly"
    [sent] = deliveries(sessions)
    assert (sent.status, sent.response_status, sent.attempts) == (DeliveryStatus.SENT, 200, 1)
    assert AlertSender(alerting, sessions, clock).send_due() == 0  # sent once only


def test_an_error_answer_is_tried_again_with_backoff_until_the_attempts_run_out(
    sessions, registry, clock, run_now, receiver, alerting
):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    receiver.status = 500
    sender = AlertSender(alerting.model_copy(update={"webhook_max_attempts": 2}), sessions, clock)
    assert sender.send_due() == 0
    [waiting] = deliveries(sessions)
    assert waiting.status is DeliveryStatus.PENDING and waiting.last_error == "HTTP 500"
    wait = (waiting.next_attempt_at - clock()).total_seconds()
    assert 10 <= wait <= 11  # the first backoff step, plus up to 10% jitter
    assert sender.send_due() == 0  # not due yet: nothing sent
    clock.advance(wait)
    sender.send_due()
    [given_up] = deliveries(sessions)
    assert given_up.status is DeliveryStatus.FAILED and given_up.attempts == 2
    assert len(receiver.calls) == 2


def test_a_redirect_is_not_followed(sessions, registry, clock, run_now, receiver, alerting):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    receiver.status, receiver.headers = 302, {"Location": f"{receiver.url}/elsewhere"}
    AlertSender(alerting, sessions, clock).send_due()
    assert [call["path"] for call in receiver.calls] == ["/hooks/taskbeat"]
    assert deliveries(sessions)[0].status is DeliveryStatus.PENDING


def test_a_host_off_the_allow_list_is_refused_when_saved(sessions, registry, clock):
    for url in (
        "http://169.254.169.254/latest",
        "http://10.0.0.8/x",
        "http://127.0.0.1@10.0.0.8/x",  # the host is what follows the @
        "http://127.0.0.1:99999/x",
    ):
        with pytest.raises(InvalidInput) as refused:
            new_task(sessions, registry, clock, webhook_url=url)
        assert refused.value.field == "webhook_url"


def test_a_host_taken_off_the_allow_list_after_saving_is_never_called(
    sessions, registry, clock, run_now, receiver, alerting
):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    narrowed = alerting.model_copy(update={"webhook_allowed_hosts": ("hooks.example.com",)})
    assert AlertSender(narrowed, sessions, clock).send_due() == 0
    assert receiver.calls == []
    [refused] = deliveries(sessions)
    assert refused.status is DeliveryStatus.FAILED
    assert "not on the webhook allow-list" in refused.last_error


def test_the_default_webhook_serves_tasks_without_one_and_no_target_fails_at_once(
    sessions, registry, clock, run_now, receiver, alerting
):
    task = new_task(sessions, registry, clock)
    run_once(sessions, run_now, clock, task, FAILED)
    AlertSender(alerting, sessions, clock).send_due()
    assert deliveries(sessions)[0].status is DeliveryStatus.FAILED  # nowhere to send it
    clock.advance(60)
    run_once(sessions, run_now, clock, task, FAILED)
    with_default = alerting.model_copy(update={"webhook_url": receiver.url})
    assert AlertSender(with_default, sessions, clock).send_due() == 1
    assert len(receiver.calls) == 1


def test_a_lease_keeps_a_delivery_from_two_senders_at_once(
    sessions, registry, clock, run_now, receiver
):
    task = new_task(sessions, registry, clock, webhook_url=receiver.url)
    run_once(sessions, run_now, clock, task, FAILED)
    with sessions.begin() as session:
        first = store.alerts.lease_due(session, clock(), clock() + timedelta(seconds=60), 10)
    with sessions.begin() as session:
        second = store.alerts.lease_due(session, clock(), clock() + timedelta(seconds=60), 10)
    assert len(first) == 1 and second == []
