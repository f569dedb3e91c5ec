"""workers.transport against a real Redis: the unacked set a worker keeps with acks late.

kombu keeps every message a worker has taken in a hash and a sorted set (`unacked`,
`unacked_index`) until it is acknowledged, so that the messages of a worker that died
are delivered again. Ours writes them from the event loop at most once per
`Transport.write_every`, and not at all for a message taken and acknowledged between two
writes. Most tests here set the interval to 0 (a write each turn) to follow one write at a
time; the ones about the interval keep one."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from kombu import Connection, Exchange, Producer, Queue
from kombu.asynchronous import Hub

from taskbeat.settings import Settings
from workers import transport
from workers.app import create_worker_app

QUEUE = Queue("transport-test", Exchange("transport-test"), routing_key="transport-test")


@contextmanager
def worker_connection(settings: Settings, registry, messages: int = 1) -> Iterator[Connection]:
    """The worker app's broker connection, with `messages` messages in QUEUE."""
    app = create_worker_app(settings, registry)
    with app.connection_for_read() as connection:
        for number in range(messages):
            publish(connection, number)
        yield connection


def publish(connection: Connection, number: int) -> None:
    Producer(connection.default_channel).publish(
        {"n": number}, exchange=QUEUE.exchange, routing_key=QUEUE.routing_key, declare=[QUEUE]
    )


@pytest.fixture
def connection(settings: Settings, registry) -> Iterator[Connection]:
    with worker_connection(settings, registry) as connection:
        yield connection


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    client.close()


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, list[tuple[object, ...]]]]:
    """Every batch of commands the unacked-set sender sends (still sent to Redis), with
    the monotonic time it went."""
    sent: list[tuple[float, list[tuple[object, ...]]]] = []
    send = transport._AnswersLater.send

    def noting(self: transport._AnswersLater, pool: object, commands: list) -> None:
        sent.append((time.monotonic(), commands))
        send(self, pool, commands)

    monkeypatch.setattr(transport._AnswersLater, "send", noting)
    return sent


def in_event_loop(connection: Connection, write_every: float = 0.0) -> Hub:
    hub = Hub()
    connection.transport.write_every = write_every
    connection.transport.register_with_event_loop(connection.connection, hub)
    return hub


def turn(hub: Hub) -> None:
    """What a worker's event loop does before it waits for events again."""
    for callback in list(hub.on_tick):
        callback()


def unacked(client: redis.Redis) -> tuple[int, int]:
    return int(client.hlen("unacked")), int(client.zcard("unacked_index"))


def settles_at(client: redis.Redis, expected: tuple[int, int]) -> bool:
    """The set reaches `expected` (a write's answer is read later, not waited for)."""
    deadline = time.monotonic() + 5
    while unacked(client) != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return unacked(client) == expected


def test_the_workers_broker_keeps_one_redis_client_for_its_unacked_bookkeeping(connection):
    """One client for the bookkeeping, not one per call; the BRPOP client, which holds a
    connection of its own, stays apart."""
    channel = connection.default_channel
    assert isinstance(channel, transport.Channel)
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.ping()
    assert channel.client is not first


def test_in_the_event_loop_a_taken_message_enters_the_set_at_the_next_turn(connection, client):
    hub = in_event_loop(connection)
    message = connection.default_channel.basic_get(QUEUE.name)
    assert message is not None
    assert unacked(client) == (0, 0)  # gathered, not written yet
    turn(hub)
    assert settles_at(client, (1, 1))
    message.ack()
    assert unacked(client) == (1, 1)
    turn(hub)
    assert settles_at(client, (0, 0))


def test_a_message_taken_and_acknowledged_within_one_turn_ends_out_of_the_set(connection, client):
    hub = in_event_loop(connection)
    connection.default_channel.basic_get(QUEUE.name).ack()
    turn(hub)
    connection.default_channel.qos.write_gathered(wait=True)  # read the answer
    assert unacked(client) == (0, 0)


def test_a_message_taken_and_acknowledged_between_two_writes_is_not_written_at_all(
    connection, client, sends
):
    hub = in_event_loop(connection)
    channel = connection.default_channel
    channel.basic_get(QUEUE.name).ack()
    turn(hub)
    assert sends == []  # nothing to write: it came and went
    publish(connection, 2)
    kept = channel.basic_get(QUEUE.name)
    turn(hub)
    _, commands = sends[0]
    assert [command[0] for command in commands] == ["MULTI", "ZADD", "HSET", "EXEC"]
    assert settles_at(client, (1, 1))
    kept.ack()


def test_a_quiet_loop_writes_what_it_gathered_when_the_interval_ends(connection, client, sends):
    """No event wakes the loop (it sleeps in poll, as a worker's does); the write still
    goes out when the interval ends, not at the loop's next timer (a second or more)."""
    hub = in_event_loop(connection, write_every=0.3)
    quiet, other_end = socket.socketpair()  # a reader that never becomes readable
    hub.add_reader(quiet, lambda *_: None)
    try:
        turn(hub)  # a write (of nothing): the interval starts
        started = time.monotonic()
        message = connection.default_channel.basic_get(QUEUE.name)
        turn(hub)
        turn(hub)
        assert sends == []  # gathered, held until the interval ends
        while not sends and time.monotonic() - started < 5:
            hub.run_once()
        assert sends, "never written"
        sent_at, _ = sends[0]
        assert 0.3 <= sent_at - started < 0.9
        assert settles_at(client, (1, 1))
        message.ack()
    finally:
        hub.close()  # the waker the loop made, and the poller
        quiet.close()
        other_end.close()


def test_an_ack_after_a_write_whose_answer_never_came_is_written(settings, registry, own_redis):
    """A write sent whose answer never came is sent again later, so the message it adds
    may be in the set: its ack must be written too, not cancelled against it."""
    own = settings.model_copy(update={"redis_url": own_redis.url})
    with worker_connection(own, registry, messages=2) as connection:
        hub = in_event_loop(connection)
        channel = connection.default_channel
        channel.basic_get(QUEUE.name).ack()
        channel.qos.write_gathered(wait=True)  # the sender's connection is open
        message = channel.basic_get(QUEUE.name)
        own_redis.freeze()  # the write goes out and is not answered ...
        killer = threading.Timer(0.3, own_redis.stop)  # ... and then Redis is gone
        killer.start()
        with pytest.raises(redis.ConnectionError):
            channel.qos.write_gathered(wait=True)
        killer.join()
        own_redis.start()
        message.ack()
        turn(hub)
        channel.qos.write_gathered(wait=True)
        client = redis.Redis.from_url(own_redis.url)
        with client:
            assert unacked(client) == (0, 0)


def test_the_sweep_for_expired_entries_writes_what_was_gathered_first(connection, client):
    """A run longer than the visibility timeout, acknowledged here since the last write,
    is not put back in its queue by kombu's periodic sweep."""
    hub = in_event_loop(connection)
    channel = connection.default_channel
    message = channel.basic_get(QUEUE.name)
    turn(hub)
    assert settles_at(client, (1, 1))
    connection.transport.write_every = 60.0
    turn(hub)  # a write (of nothing): the next is a minute away
    message.ack()
    channel.qos.visibility_timeout = -1  # every entry in the set counts as expired
    channel.qos.restore_visible(interval=1)
    assert client.llen(QUEUE.name) == 0
    assert unacked(client) == (0, 0)


def test_closing_the_channel_gives_back_a_message_not_yet_written_to_the_set(connection, client):
    """A worker shutting down restores its unacknowledged messages to their queue,
    gathered or written: none is lost to the broker."""
    in_event_loop(connection)
    channel = connection.default_channel
    assert channel.basic_get(QUEUE.name) is not None
    assert client.llen(QUEUE.name) == 0
    channel.close()
    assert client.llen(QUEUE.name) == 1
    assert unacked(client) == (0, 0)


def test_a_channel_closed_after_its_transport_was_detached_still_gives_back_its_messages(
    connection, client
):
    """After a connection loss Celery collects the connection (kombu then drops the
    transport's `client`) and closes it; the channel's close gives back a run in flight
    through a new pool. kombu read the pool's address from the dropped client:
    AttributeError, which Celery took for unrecoverable (the worker exited with 0)."""
    in_event_loop(connection)
    channel = connection.default_channel
    assert channel.basic_get(QUEUE.name) is not None
    channel._disconnect_pools()  # as kombu's close does first
    connection.transport.client = None  # as Connection.collect does
    channel.close()
    assert client.llen(QUEUE.name) == 1
    assert unacked(client) == (0, 0)


def test_a_late_ack_on_a_closed_channel_leaves_nothing_in_the_set(connection, client):
    """A run that outlives its channel (Redis went away meanwhile) is acknowledged on
    the old channel once it ends: it must not fail on the channel's missing transport."""
    channel = connection.default_channel
    message = channel.basic_get(QUEUE.name)  # outside the loop: written at once
    assert unacked(client) == (1, 1)
    channel.qos.restore_at_shutdown = False  # closing leaves the entry where it is
    channel.close()
    assert channel.connection is None
    message.ack()
    assert unacked(client) == (0, 0)


def test_a_late_requeue_on_a_detached_channel_leaves_the_entry_for_a_later_delivery(
    connection, client
):
    """A run handed back (the database was away) after its channel was let go: kombu
    cannot put it back through that channel, and dropped its entry as it failed."""
    channel = connection.default_channel
    message = channel.basic_get(QUEUE.name)  # outside the loop: written at once
    channel.qos.restore_at_shutdown = False
    channel._disconnect_pools()
    connection.transport.client = None  # as Connection.collect does
    channel.close()
    message.reject(requeue=True)
    assert unacked(client) == (1, 1)  # the visibility timeout or the requeue sweep
    assert client.llen(QUEUE.name) == 0


def test_a_requeued_message_goes_back_to_its_queue_though_its_entry_was_only_gathered(
    connection, client
):
    in_event_loop(connection)
    message = connection.default_channel.basic_get(QUEUE.name)
    message.reject(requeue=True)
    assert client.llen(QUEUE.name) == 1
    assert unacked(client) == (0, 0)


def test_outside_an_event_loop_each_change_is_written_at_once(connection, client):
    message = connection.default_channel.basic_get(QUEUE.name)
    assert unacked(client) == (1, 1)
    message.ack()
    assert unacked(client) == (0, 0)


@pytest.mark.parametrize("reported_every", [60.0, 0.0])
def test_writes_redis_refuses_are_logged_when_they_start_not_on_every_write(
    settings, registry, own_redis, caplog, monkeypatch, reported_every
):
    monkeypatch.setattr(transport, "REFUSALS_REPORTED_EVERY", reported_every)
    # Celery's log set-up in earlier tests may leave the root logger at ERROR.
    caplog.set_level(logging.WARNING, logger=transport.__name__)
    own = settings.model_copy(update={"redis_url": own_redis.url})
    client = redis.Redis.from_url(own_redis.url)
    with worker_connection(own, registry, messages=3) as connection, client:
        hub = in_event_loop(connection)
        channel = connection.default_channel
        client.config_set("maxmemory", 1)  # out of memory from now on: writes refused
        for _ in range(3):
            message = channel.basic_get(QUEUE.name)
            assert message is not None
            turn(hub)
        channel.qos.write_gathered(wait=True)  # the last answers
        client.config_set("maxmemory", 0)  # writes taken again
        message.ack()
        channel.qos.write_gathered(wait=True)
    lines = [r.getMessage() for r in caplog.records if "unacked set" in r.getMessage()]
    refusals = [line for line in lines if line.startswith("Redis refused")]
    if reported_every:
        assert len(refusals) == 1, lines
        assert "maxmemory" in refusals[0]  # why, not only that the transaction failed
        assert "again (2 more refused" in lines[-1], lines
    else:
        assert len(refusals) == 3, lines
        assert "again (0 more refused" in lines[-1], lines


def drop_other_connections(client: redis.Redis) -> None:
    """What a Redis restart or `CLIENT KILL` does to the worker's connections."""
    mine = client.client_id()
    for other in client.client_list():
        if int(other["id"]) != mine:
            client.client_kill_filter(_id=other["id"])


def test_a_write_into_a_connection_redis_dropped_is_sent_again_on_a_new_one(connection, client):
    hub = in_event_loop(connection)
    message = connection.default_channel.basic_get(QUEUE.name)
    turn(hub)
    assert settles_at(client, (1, 1))
    drop_other_connections(client)
    message.ack()
    turn(hub)  # sent, perhaps into the dropped connection
    turn(hub)  # a quiet turn: its answer read, or its end seen and the write sent again
    assert settles_at(client, (0, 0))


def test_after_a_dropped_connection_the_next_writes_and_a_close_still_work(connection, client):
    hub = in_event_loop(connection)
    channel = connection.default_channel
    first = channel.basic_get(QUEUE.name)
    turn(hub)
    assert settles_at(client, (1, 1))
    drop_other_connections(client)
    channel.qos.write_gathered(wait=True)  # reads what is due on the dropped connection
    first.ack()
    publish(connection, 2)
    assert channel.basic_get(QUEUE.name) is not None
    turn(hub)
    assert settles_at(client, (1, 1))
    channel.close()  # the second is given back
    assert client.llen(QUEUE.name) == 1
    assert unacked(client) == (0, 0)
