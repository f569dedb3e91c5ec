"""A real Celery worker consuming from a real Redis, and the scheduler's wake-up channel."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from scheduler.wakeup import Wakeup, WakeupListener
from taskbeat import store
from taskbeat.celery_app import make_celery
from taskbeat.clock import utcnow
from taskbeat.models import Execution
from taskbeat.names import wakeup_channel
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import RedisPublisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest, TaskDefinition
from tests import sample_handlers
from workers.app import create_worker_app

TIMEOUT = 20.0


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate.__doc__ or predicate}")
        time.sleep(0.05)


@pytest.fixture
def worker(settings, registry) -> Iterator[None]:
    app = create_worker_app(settings, registry)
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
        yield


@pytest.fixture
def publisher(settings) -> Iterator[RedisPublisher]:
    publisher = RedisPublisher.from_settings(settings, make_celery(settings))
    yield publisher
    publisher.close()


def manual_run(sessions, registry, handler: str, **fields: object) -> Execution:
    now = utcnow()
    with sessions.begin() as session:
        definition = TaskDefinition(name="it", handler=handler, schedule="@daily", **fields)
        operations.create_task(session, definition, registry, now=now, default_queue="integration")
        execution, _ = operations.create_manual_run(
            session, "it", RunRequest(), registry, now=now, lease_until=now
        )
    return execution


def status_of(sessions, execution_id: int) -> ExecutionStatus:
    with sessions() as session:
        return store.executions.get_execution(session, execution_id).status


def test_a_real_worker_runs_an_execution_published_to_redis(worker, publisher, sessions, registry):
    execution = manual_run(sessions, registry, "echo", params={"x": 1})
    assert publisher.publish([RunMessage(execution.id, "integration")]) == [execution.id]

    wait_for(lambda: status_of(sessions, execution.id) is ExecutionStatus.SUCCEEDED)
    with sessions() as session:
        done = store.executions.get_execution(session, execution.id)
    assert done.result["params"] == {"x": 1}
    assert done.worker is not None


def queue_drained(settings: Settings) -> bool:
    """Every message delivered and acknowledged: none waiting, none in flight."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        return client.llen(settings.default_queue) == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def test_duplicate_messages_for_one_execution_run_the_handler_once(
    worker, publisher, sessions, registry, settings
):
    execution = manual_run(sessions, registry, "count-runs")
    message = RunMessage(execution.id, "integration")
    publisher.publish([message, message, message])

    wait_for(lambda: status_of(sessions, execution.id) is ExecutionStatus.SUCCEEDED)
    publisher.publish([message])  # and one more after it finished
    wait_for(lambda: queue_drained(settings))
    assert sample_handlers.RUNS[execution.id] == 1


def test_a_failed_attempt_gets_its_retry_row_and_the_scheduler_is_woken(
    worker, publisher, sessions, registry, settings
):
    wakeup = Wakeup()
    listener = WakeupListener(settings.redis_url, wakeup_channel(settings.namespace), wakeup)
    listener.start()
    try:
        assert wakeup.wait(5)  # the listener's own first wake-up: it is subscribed
        execution = manual_run(
            sessions,
            registry,
            "fail-n-times",
            params={"failures": 1},
            max_retries=1,
            retry_delay=60,
        )
        publisher.publish([RunMessage(execution.id, "integration")])
        wait_for(lambda: status_of(sessions, execution.id) is ExecutionStatus.FAILED)
        assert wakeup.wait(5), "the worker did not wake the scheduler"
    finally:
        listener.stop()
    with sessions() as session:
        [retry] = store.listings.list_executions(
            session,
            store.listings.ExecutionFilter(task_id=execution.task_id, before_id=None),
            limit=1,
        )
    assert retry.attempt == 2
    assert retry.status is ExecutionStatus.SCHEDULED
    assert retry.due_at - retry.created_at == timedelta(seconds=60)


def test_redis_losing_its_data_is_noticed_once_by_one_scheduler(settings, publisher):
    other = RedisPublisher.from_settings(settings, make_celery(settings))
    try:
        assert publisher.broker_was_reset()  # first look: nothing known yet
        assert not publisher.broker_was_reset()
        assert not other.broker_was_reset()
        redis.Redis.from_url(
            settings.redis_url
        ).flushdb()  # what a restart without persistence does
        assert [publisher.broker_was_reset(), other.broker_was_reset()].count(True) == 1
    finally:
        other.close()


def test_publishing_to_a_redis_that_is_gone_reports_nothing_published(settings, sessions):
    gone = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    publisher = RedisPublisher.from_settings(gone, make_celery(gone))
    try:
        assert publisher.publish([RunMessage(1, "integration")]) == []
        publisher.wake_scheduler()  # best effort: logs, does not raise
    finally:
        publisher.close()
