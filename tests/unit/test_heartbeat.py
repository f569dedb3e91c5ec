"""A worker process shows its runs alive in the database and in Redis, and fences
itself when it can do neither (the thread loops are driven by hand, with a fixed clock)."""

from __future__ import annotations

import logging
import os

import fakeredis
import pytest
import redis
from sqlalchemy import update

from taskbeat.db import make_engine
from taskbeat.models import Execution
from taskbeat.names import alive_key
from taskbeat.redis_clients import quick_client
from taskbeat.status import ExecutionStatus
from taskbeat.store.runs import RunningExecution
from tests.runs import claimed
from workers.heartbeat import FENCED_EXIT_CODE, Heartbeats, end_process


class Fence:
    """Records why the process would have ended."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


@pytest.fixture
def broken_engine(settings):
    engine = make_engine("sqlite:////nonexistent/dir/x.db")
    yield engine
    engine.dispose()


@pytest.fixture
def run(clock, make_task, run_now, sessions) -> RunningExecution:
    """A run of an echo task, claimed now."""
    return claimed(sessions, run_now(make_task(handler="echo")).id, clock())


@pytest.fixture
def unreachable() -> redis.Redis:
    """A Redis client nothing answers."""
    return quick_client("redis://127.0.0.1:1/0", 0.2)


def test_a_run_shown_alive_in_either_place_is_not_fenced(settings, broken_engine, clock, run):
    client, fence = fakeredis.FakeRedis(), Fence()
    heartbeats = Heartbeats(broken_engine, client, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        for _ in range(10):  # the database is away the whole time, Redis is not
            clock.advance(settings.heartbeat_interval)
            heartbeats.refresh()
            heartbeats.check_fence()
        assert client.pttl(alive_key(settings.namespace, run.id)) > 0
    assert fence.reasons == []
    heartbeats.refresh()  # the keys of ended runs go with the next refresh
    assert not client.exists(alive_key(settings.namespace, run.id))


def test_a_run_shown_alive_nowhere_for_fence_after_ends_the_process(
    settings, broken_engine, clock, run, unreachable
):
    fence = Fence()
    heartbeats = Heartbeats(broken_engine, unreachable, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        clock.advance(settings.fence_seconds)
        heartbeats.check_fence()
        assert fence.reasons == []
        clock.advance(1)
        heartbeats.check_fence()
    [reason] = fence.reasons
    assert f"execution {run.id} " in reason and "not shown alive" in reason


def test_a_database_stamp_alone_keeps_the_fence_away(settings, engine, clock, run, unreachable):
    fence = Fence()
    heartbeats = Heartbeats(engine, unreachable, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        for _ in range(10):
            clock.advance(settings.heartbeat_interval)
            heartbeats.stamp()
            heartbeats.check_fence()
    assert fence.reasons == []


def test_a_process_that_wakes_from_a_freeze_is_fenced_before_it_sets_its_keys_again(
    settings, broken_engine, clock, run, sessions
):
    # SIGSTOP, a stalled VM: nothing ran for longer than fence_after. Setting the keys
    # first would show the run alive again, and its handler would go on.
    client, fence = fakeredis.FakeRedis(), Fence()
    heartbeats = Heartbeats(broken_engine, client, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        heartbeats.key_turn(refresh=True)
        clock.advance(settings.fence_seconds + 5)  # frozen
        heartbeats.key_turn(refresh=True)
    [reason] = fence.reasons
    assert f"execution {run.id} " in reason and "not shown alive" in reason


def settle_elsewhere(sessions, execution_id: int) -> None:
    """What the sweeper does to a run it finds dead."""
    with sessions.begin() as session:
        session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(status=ExecutionStatus.LOST)
        )


def test_a_run_settled_elsewhere_while_its_handler_runs_here_ends_the_process(
    settings, engine, clock, run, sessions
):
    fence = Fence()
    heartbeats = Heartbeats(engine, fakeredis.FakeRedis(), settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        heartbeats.stamp()
        assert fence.reasons == []
        settle_elsewhere(sessions, run.id)
        heartbeats.stamp()
    [reason] = fence.reasons
    assert f"execution {run.id} was settled elsewhere" in reason


def test_a_run_settled_once_its_handler_returned_does_not_end_the_process(
    settings, engine, clock, run, sessions
):
    # Its own outcome write settles it (or the sweeper, while that write waits out an
    # outage): the handler is done, nothing is left to stop.
    fence = Fence()
    heartbeats = Heartbeats(engine, fakeredis.FakeRedis(), settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        heartbeats.handler_returned(run.id)
        settle_elsewhere(sessions, run.id)
        heartbeats.stamp()
    assert fence.reasons == []
    assert heartbeats.lost == {run.id}


def test_a_run_whose_handler_returned_is_not_fenced_while_its_outcome_is_written(
    settings, broken_engine, clock, run, unreachable
):
    # Ending the process would stop nothing, and keep the outcome from being written.
    fence = Fence()
    heartbeats = Heartbeats(broken_engine, unreachable, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        heartbeats.handler_returned(run.id)
        clock.advance(settings.fence_seconds + 5)
        heartbeats.check_fence()
    assert fence.reasons == []


def test_a_turn_on_time_sets_the_keys_before_it_checks_the_fence(
    settings, broken_engine, clock, run
):
    # Redis missed refreshes until the fence was near: a refresh that succeeds on time
    # still counts before the check (a late turn, a frozen process, checks first).
    fence = Fence()
    heartbeats = Heartbeats(broken_engine, fakeredis.FakeRedis(), settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        for _ in range(int(settings.fence_seconds)):
            clock.advance(1)
            heartbeats.key_turn(refresh=False)
        clock.advance(1)  # past fence_after since the claim's stamp
        heartbeats.key_turn(refresh=True)
    assert fence.reasons == []


def test_ending_the_process_survives_a_log_handler_that_fails(monkeypatch):
    exits: list[int] = []

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            pass

        def flush(self) -> None:
            raise BrokenPipeError("the log's reader is gone")

    def exit_(code: int) -> None:
        exits.append(code)

    monkeypatch.setattr(os, "_exit", exit_)
    broken = Broken()
    logging.getLogger().addHandler(broken)
    try:
        with pytest.raises(BrokenPipeError):
            end_process("fenced: execution 1 (9.0s) not shown alive")
    finally:
        logging.getLogger().removeHandler(broken)
    assert exits == [FENCED_EXIT_CODE]
