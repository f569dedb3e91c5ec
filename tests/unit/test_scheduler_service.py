"""The scheduler loop's decisions: how long to sleep, when to sweep, surviving errors."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import fakeredis
import pytest

from scheduler.service import Scheduler
from taskbeat.db import make_engine, make_session_factory
from taskbeat.monitoring.beacons import Beacon, alive_schedulers
from taskbeat.redis_clients import quick_client


@pytest.fixture
def scheduler(settings, sessions, publisher, clock) -> Scheduler:
    return Scheduler(settings, sessions, publisher, clock, fakeredis.FakeRedis())


def test_with_nothing_defined_it_sleeps_the_longest_allowed(scheduler, settings):
    assert scheduler.run_once() == settings.scheduler_max_sleep


def test_it_sleeps_exactly_until_the_next_slot(scheduler, make_task, clock):
    task = make_task(schedule="every 2 seconds")
    assert scheduler.run_once() == pytest.approx((task.next_run_at - clock()).total_seconds())


def test_it_wakes_on_time_for_a_slot_due_in_milliseconds(scheduler, make_task, clock, publisher):
    task = make_task(schedule="every 1 seconds")
    clock.set(task.next_run_at - timedelta(milliseconds=20))
    assert scheduler.run_once() == pytest.approx(0.02)
    clock.advance(0.02)
    scheduler.run_once()
    assert len(publisher.messages) == 1


def test_a_full_batch_means_no_sleep(settings, sessions, publisher, clock, make_task):
    for number in range(3):
        make_task(name=f"t{number}", schedule="now")
    small = settings.model_copy(update={"scheduler_batch_size": 2})
    assert Scheduler(small, sessions, publisher, clock, fakeredis.FakeRedis()).run_once() == 0.0


def test_a_failing_wake_up_is_logged_and_retried_after_a_pause(settings, publisher, clock, caplog):
    broken = settings.model_copy(update={"database_url": "sqlite:////nonexistent/dir/x.db"})
    engine = make_engine(broken.database_url)
    try:
        scheduler = Scheduler(
            broken, make_session_factory(engine), publisher, clock, fakeredis.FakeRedis()
        )
        assert scheduler.run_once() == broken.scheduler_error_pause
        assert "scheduler wake-up failed" in caplog.text
    finally:
        engine.dispose()


@pytest.fixture
def looping(settings, sessions, publisher, clock):
    """A scheduler whose loop runs in a thread, sleeping up to 60 s between wake-ups;
    yields it and an event set after each wake-up."""
    patient = settings.model_copy(update={"scheduler_max_sleep": 60.0})
    scheduler = Scheduler(patient, sessions, publisher, clock, fakeredis.FakeRedis())
    woke = threading.Event()
    original = scheduler.run_once

    def run_once() -> float:
        delay = original()
        woke.set()
        return delay

    scheduler.run_once = run_once  # type: ignore[method-assign]
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    assert woke.wait(5), "the loop did not start"
    yield scheduler, woke
    scheduler.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_stop_ends_the_loop_while_it_sleeps(looping):
    scheduler, woke = looping
    woke.clear()
    scheduler.stop()
    assert not woke.wait(0.5), "the loop woke up for another tick after stop()"


def test_a_wakeup_makes_the_sleeping_loop_dispatch_a_new_task_at_once(
    looping, make_task, publisher
):
    scheduler, woke = looping
    woke.clear()
    make_task(schedule="now")  # due at once; the loop would otherwise sleep 60 s
    scheduler.wakeup.set()  # what the API's pub/sub message does
    assert woke.wait(5)
    assert len(publisher.messages) == 1


def test_each_wake_up_beats_the_heartbeat_and_a_clean_stop_removes_it(
    settings, sessions, publisher, clock
):
    client = fakeredis.FakeRedis()
    beacon = Beacon(client, settings.namespace, settings.scheduler_alive_after, clock)
    scheduler = Scheduler(
        settings, sessions, publisher, clock, fakeredis.FakeRedis(), beacon=beacon
    )
    scheduler.run_once()
    now = clock().timestamp()
    [alive] = alive_schedulers(client, settings.namespace, now, settings.scheduler_alive_after)
    assert alive.id == beacon.id and alive.wakeups == 1 and alive.wakeup_seconds >= 0
    scheduler.run_once()  # within the second: counted, not written
    clock.advance(1)
    scheduler.run_once()
    [alive] = alive_schedulers(client, settings.namespace, clock().timestamp(), 30)
    assert alive.wakeups == 3
    later = clock().timestamp() + settings.scheduler_alive_after + 1
    assert alive_schedulers(client, settings.namespace, later, settings.scheduler_alive_after) == []
    scheduler.stop()
    scheduler.run()  # stops at once, and clears its heartbeat on the way out
    assert alive_schedulers(client, settings.namespace, clock().timestamp(), 30) == []


def test_a_heartbeat_redis_cannot_take_does_not_stop_the_loop(
    settings, sessions, publisher, clock, make_task
):
    unreachable = quick_client("redis://127.0.0.1:1/0", 0.2)
    beacon = Beacon(unreachable, settings.namespace, 30, clock)
    scheduler = Scheduler(
        settings, sessions, publisher, clock, fakeredis.FakeRedis(), beacon=beacon
    )
    make_task(schedule="now")
    started = time.monotonic()
    scheduler.run_once()
    assert len(publisher.messages) == 1
    assert time.monotonic() - started < 1.0  # the failed beat did not hold up the wake-up
