"""The sweep for lost runs: a running execution is settled only when its worker is
known to be gone (stale heartbeat, no alive key, database and Redis trusted long enough)."""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from scheduler.sweeper import LostRunSweeper
from taskbeat import store
from taskbeat.executions import liveness
from taskbeat.executions.lifecycle import Outcome
from taskbeat.names import broker_epoch_key
from taskbeat.redis_clients import quick_client
from taskbeat.status import ExecutionStatus
from taskbeat.tasks.state import TaskState
from tests.runs import claim, claimed, history, reload, settle


@pytest.fixture
def redis_client(settings) -> fakeredis.FakeRedis:
    client = fakeredis.FakeRedis()
    client.set(broker_epoch_key(settings.namespace), b"epoch-1")
    return client


@pytest.fixture
def sweeper(settings, sessions, redis_client, clock) -> LostRunSweeper:
    return LostRunSweeper(settings, sessions, redis_client, clock)


def test_a_worker_that_stops_heartbeating_is_declared_lost_and_its_run_retried(
    settings, sessions, clock, make_task, run_now, sweeper
):
    task = make_task(handler="echo", max_retries=1, retry_delay=3)
    execution = run_now(task)
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after - 1)
    assert sweeper.sweep() == 0
    clock.advance(2)
    assert sweeper.sweep() == 1
    lost, retry = history(sessions, task)
    assert lost.status is ExecutionStatus.LOST
    assert lost.error_type == "WorkerLost"
    assert retry.due_at == clock() + timedelta(seconds=3)
    assert reload(sessions, task).state is TaskState.RETRY_SCHEDULED


def test_a_late_outcome_overwrites_neither_the_lost_run_nor_its_retry(
    settings, sessions, clock, make_task, run_now, sweeper
):
    task = make_task(handler="echo", max_retries=1, retry_delay=1)
    execution = run_now(task)
    run = claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)
    sweeper.sweep()
    _, retry = history(sessions, task)
    retried = claim(sessions, retry.id, clock(), worker="other@host:2")
    assert retried is not None
    assert settle(sessions, run, Outcome(ExecutionStatus.SUCCEEDED), clock()) is None
    lost, still_running = history(sessions, task)
    assert lost.status is ExecutionStatus.LOST
    assert still_running.status is ExecutionStatus.RUNNING
    assert still_running.worker == "other@host:2"


def test_a_run_past_its_timeout_whose_worker_died_is_timed_out_not_lost(
    settings, sessions, clock, make_task, run_now, sweeper
):
    task = make_task(handler="echo", timeout=30)
    execution = run_now(task)
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)
    assert sweeper.sweep() == 1
    [timed_out] = history(sessions, task)
    assert timed_out.status is ExecutionStatus.TIMED_OUT
    assert "30s time limit" in timed_out.error_message


def test_an_alive_key_keeps_a_run_with_a_stale_heartbeat_running(
    settings, sessions, clock, make_task, run_now, sweeper, redis_client
):
    task = make_task(handler="echo", timeout=30)
    execution = run_now(task)
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after * 3)
    liveness.refresh(redis_client, settings.namespace, [execution.id], [], settings.lost_after)
    assert sweeper.sweep() == 0
    redis_client.delete(*redis_client.keys(f"{settings.namespace}:alive:*"))
    assert sweeper.sweep() == 1
    assert history(sessions, task)[0].status is ExecutionStatus.TIMED_OUT


def test_nothing_is_settled_while_redis_cannot_be_asked(
    settings, sessions, clock, make_task, run_now
):
    unreachable = quick_client("redis://127.0.0.1:1/0", 0.2)
    sweeper = LostRunSweeper(settings, sessions, unreachable, clock)
    execution = run_now(make_task(handler="echo"))
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)
    assert sweeper.sweep() == 0


def test_a_scheduler_that_regains_the_database_waits_lost_after_before_settling(
    settings, sessions, clock, make_task, run_now, sweeper
):
    execution = run_now(make_task(handler="echo"))
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after * 2)
    sweeper.database_failed()
    clock.advance(30)
    sweeper.database_answered()  # the outage is over: workers may stamp again
    clock.advance(settings.lost_after - 1)
    assert sweeper.sweep() == 0
    sweeper.database_answered()  # answering again does not restart the count
    clock.advance(1)
    assert sweeper.sweep() == 1


def test_a_fresh_scheduler_counts_from_its_start(
    settings, sessions, clock, make_task, run_now, redis_client
):
    execution = run_now(make_task(handler="echo"))
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after * 5)
    sweeper = LostRunSweeper(settings, sessions, redis_client, clock)
    assert sweeper.sweep() == 0
    clock.advance(settings.lost_after)
    assert sweeper.sweep() == 1


def test_after_redis_lost_its_data_the_sweeper_waits_for_workers_to_set_their_keys(
    settings, sessions, clock, make_task, run_now, sweeper, redis_client
):
    first = run_now(make_task(name="first", handler="echo"))
    second = run_now(make_task(name="second", handler="echo"))
    claimed(sessions, first.id, clock())
    clock.advance(settings.lost_after + 1)
    assert sweeper.sweep() == 1  # the epoch is seen, and trusted since the start
    claimed(sessions, second.id, clock())
    clock.advance(settings.lost_after + 1)
    redis_client.flushall()  # a restart without persistence: epoch and keys gone
    assert sweeper.sweep() == 0
    redis_client.set(broker_epoch_key(settings.namespace), b"epoch-2")
    clock.advance(settings.lost_after - 1)
    assert sweeper.sweep() == 0
    clock.advance(1)
    assert sweeper.sweep() == 1


def test_a_loss_of_redis_data_is_noticed_though_no_run_was_stale_before(
    settings, sessions, clock, make_task, run_now, sweeper, redis_client
):
    assert sweeper.sweep() == 0  # nothing stale: the epoch is seen all the same
    execution = run_now(make_task(handler="echo"))
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)  # its worker is cut off from the database
    redis_client.flushall()  # and its alive key went with Redis's data
    redis_client.set(broker_epoch_key(settings.namespace), b"epoch-2")
    assert sweeper.sweep() == 0  # the new epoch is trusted only from now
    clock.advance(settings.lost_after)
    assert sweeper.sweep() == 1


def test_a_run_stamped_between_the_sweeps_read_and_its_settle_is_left_running(
    settings, sessions, clock, make_task, run_now, sweeper, monkeypatch
):
    # The worker was slow, not gone: its stamp lands while the sweep asks Redis.
    task = make_task(handler="echo", max_retries=1)
    run = claimed(sessions, run_now(task).id, clock())
    clock.advance(settings.lost_after + 1)
    ask_redis = sweeper._shown_alive

    def stamped_meanwhile(execution_ids, now):
        with sessions.begin() as session:
            store.sweeps.touch_heartbeats(session.connection(), [run.id], clock())
        return ask_redis(execution_ids, now)

    monkeypatch.setattr(sweeper, "_shown_alive", stamped_meanwhile)
    assert sweeper.sweep() == 0
    [still] = history(sessions, task)
    assert still.status is ExecutionStatus.RUNNING
