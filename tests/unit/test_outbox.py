"""The outbox relay's republishing of queued runs whose message may be gone."""

from __future__ import annotations

from scheduler.dispatch import Dispatcher
from taskbeat.outbox.relay import republish_queued
from tests.runs import claimed


def test_queued_runs_unclaimed_too_long_are_published_again(
    settings, sessions, publisher, clock, make_task
):
    task = make_task(handler="echo", schedule="every 60 seconds")
    clock.set(task.next_run_at)
    Dispatcher(settings, sessions, publisher, clock).tick()
    [execution_id] = publisher.execution_ids
    clock.advance(settings.requeue_after - 1)
    assert republish_queued(settings, sessions, publisher, clock) == 0
    clock.advance(2)
    assert republish_queued(settings, sessions, publisher, clock) == 1
    assert publisher.execution_ids == [execution_id, execution_id]
    assert republish_queued(settings, sessions, publisher, clock) == 0  # the wait restarts


def test_every_queued_run_is_published_again_when_redis_lost_its_data(
    settings, sessions, publisher, clock, make_task
):
    first = make_task(name="a", handler="echo", schedule="every 60 seconds")
    make_task(name="b", handler="echo", schedule="every 60 seconds")
    clock.set(first.next_run_at)
    Dispatcher(settings, sessions, publisher, clock).tick()
    taken, waiting = publisher.execution_ids
    claimed(sessions, taken, clock())
    publisher.reset = True
    assert republish_queued(settings, sessions, publisher, clock) == 1
    assert publisher.execution_ids[-1] == waiting
