"""A worker process shows its runs alive in the database and in Redis, and fences
itself when it can do neither (the thread loops are driven by hand, with a fixed clock)."""

from __future__ import annotations

import fakeredis
import pytest

from taskbeat.db import make_engine
from taskbeat.names import alive_key
from taskbeat.redis_clients import quick_client
from tests.runs import claimed
from workers.heartbeat import Heartbeats


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


def test_a_run_shown_alive_in_either_place_is_not_fenced(
    settings, engine, broken_engine, clock, make_task, run_now, sessions
):
    execution = run_now(make_task(handler="echo"))
    run = claimed(sessions, execution.id, clock())
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
    settings, broken_engine, clock, make_task, run_now, sessions
):
    execution = run_now(make_task(handler="echo"))
    run = claimed(sessions, execution.id, clock())
    unreachable = quick_client("redis://127.0.0.1:1/0", 0.2)
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


def test_a_database_stamp_alone_keeps_the_fence_away(
    settings, engine, clock, make_task, run_now, sessions
):
    execution = run_now(make_task(handler="echo"))
    run = claimed(sessions, execution.id, clock())
    unreachable = quick_client("redis://127.0.0.1:1/0", 0.2)
    fence = Fence()
    heartbeats = Heartbeats(engine, unreachable, settings, clock, fence)
    with heartbeats.watching(run.id, run.started_at):
        for _ in range(10):
            clock.advance(settings.heartbeat_interval)
            heartbeats.stamp()
            heartbeats.check_fence()
    assert fence.reasons == []
