"""kombu's Redis transport, with its per-message bookkeeping made cheaper for the worker's
event loop.

With acks late, a worker's main process keeps every message it has taken in an unacked
set in Redis until the run is acknowledged, so that a worker that dies leaves its
messages to be delivered again. kombu writes that set with a Redis transaction when it
takes each message and another when it acknowledges each, and waits for each answer in
the event loop, where the pool's results and the next jobs wait too. Three changes:

- One Redis client per connection pool, not a new `redis.Redis` (and a copy of its
  table of response callbacks, a few hundred entries) for every call: that copy was a
  fifth of the main process's CPU per message in py-spy (bench/README.md).
- Inside the event loop, the additions and removals are gathered and written at most
  once every `Transport.write_every` (50 ms), as one transaction, without waiting for
  its answer: off the path from a finished run to the next job. Outside an event loop
  each is written at once, as kombu does. Whatever must read the set (a restore, kombu's
  sweep for entries past the visibility timeout, a reject with requeue, closing the
  channel) writes what is gathered first.
- A message taken and acknowledged between two writes is not written at all: on a busy
  worker, most runs. Each write was a send on a socket, and those sends were a quarter
  of the main process's samples in py-spy (bench/README.md).

So a message enters the set up to 50 ms after it was taken, or never, and leaves it up
to 50 ms after its ack. If the process dies in between, the message is lost to the
broker, as it is between kombu's BRPOP and its transaction. That changes no recovery:
taskbeat still has the run `queued` in the database and publishes it again after
`TASKBEAT_REQUEUE_AFTER` (the requeue sweep), which with the defaults (15 min against a
1 h visibility timeout) comes before kombu would restore a dead worker's entries anyway;
a run it had claimed is found by the lost-run sweeper. The other way round, another
worker's sweep for entries past the visibility timeout may put back a run that long
acknowledged here within those 50 ms: the copy's claim finds it settled and drops it.

Everything else, the wire format and the keys, is kombu's. Used by the worker's Celery
app for `redis://` and `rediss://` brokers (`TRANSPORT`); other brokers keep their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps

TRANSPORT = f"{__name__}:Transport"
ANSWER_TIMEOUT = 5.0  # seconds to wait for answers already due
REFUSALS_REPORTED_EVERY = 60.0  # seconds between log lines while Redis refuses writes
# What a Redis connection that has ended raises.
DROPPED = (redis.ConnectionError, redis.TimeoutError, OSError)
SCHEMES = ("redis", "rediss")
log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    """The unacked set, gathered in the event loop and written when `Transport` says."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()  # what is gathered
        self._writing = threading.Lock()  # the connection the writes go out on
        # tag -> (time taken, message): its entry is encoded only if it is written.
        self._taken: dict[str, tuple[float, Any]] = {}
        self._acked: list[str] = []
        # Tags whose addition may have reached Redis though its write failed: their
        # removal is always written, never cancelled against the addition.
        self._maybe_written: set[str] = set()

    def append(self, message: Any, delivery_tag: str) -> None:
        if not self.channel.connection.in_event_loop:
            super().append(message, delivery_tag)
            return
        with self._lock:
            self._taken[delivery_tag] = (time.time(), message)
        virtual.QoS.append(self, message, delivery_tag)
        self.channel.connection.write_soon()

    def ack(self, delivery_tag: str) -> None:
        transport = self.channel.connection  # None once the channel is closed
        if transport is None or not transport.in_event_loop:
            super().ack(delivery_tag)
            return
        with self._lock:
            self._acked.append(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)
        transport.write_soon()

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue and _is_closed(self.channel):
            # kombu cannot put it back through a closed channel (it would drop the entry
            # and log that the restore failed): the entry stays, for the visibility
            # timeout or taskbeat's requeue sweep to deliver again.
            log.warning("message %s not requeued: its channel is closed", delivery_tag)
            return
        self.write_gathered(wait=True)
        super().reject(delivery_tag, requeue)

    def restore_unacked(self, client: Any = None) -> None:
        self.write_gathered(wait=True)
        super().restore_unacked(client)

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        # kombu's periodic sweep for entries older than the visibility timeout: a run
        # that long acknowledged here in the last interval must not be delivered again.
        self.write_gathered(wait=True)
        super().restore_visible(*args, **kwargs)

    def write_gathered(self, wait: bool = False) -> None:
        """Send what was gathered as one transaction: additions, then removals, less
        the messages taken and acknowledged since the last write. Its answer is read
        before the next is sent, or now with `wait` (before anything reads the set on
        another connection)."""
        with self._writing:
            with self._lock:
                taken, acked = _still_to_write(self._taken, self._acked, self._maybe_written)
                self._taken, self._acked = {}, []
                self._maybe_written.difference_update(acked)
            try:
                if taken or acked:
                    self._send(taken, acked)
                if wait:
                    self._sender.read_answers()
                elif not (taken or acked):  # a quiet turn: confirm the last write
                    self._sender.read_ready_answers()
            except BaseException:
                with self._lock:  # kept for the next write, before anything newer
                    self._taken = {**taken, **self._taken}
                    self._acked = [*acked, *self._acked]
                    # Sent or not, the sender may send them again: see _maybe_written.
                    self._maybe_written.update(taken)
                raise

    def _send(self, taken: dict[str, tuple[float, Any]], acked: list[str]) -> None:
        with self.pipe_or_acquire() as pipe:
            if taken:
                pipe.zadd(self.unacked_index_key, {tag: at for tag, (at, _) in taken.items()})
                entries = {tag: _entry(message) for tag, (_, message) in taken.items()}
                pipe.hset(self.unacked_key, mapping=entries)
            if acked:
                pipe.zrem(self.unacked_index_key, *acked)
                pipe.hdel(self.unacked_key, *acked)
            # The pipeline's commands carry kombu's key prefix, if one is configured.
            commands = [("MULTI",), *(args for args, _ in pipe.command_stack), ("EXEC",)]
            pipe.reset()
        self._sender.send(self.channel.pool, commands)

    def close_writes(self) -> None:
        """Write what was gathered, read every answer, and give the connection back."""
        self.write_gathered(wait=True)
        self._sender.close()

    @cached_property
    def _sender(self) -> _AnswersLater:
        return _AnswersLater()


def _entry(message: Any) -> str:
    """A message's entry in kombu's unacked hash, as kombu writes it."""
    delivery = message.delivery_info
    entry: str = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
    return entry


def _still_to_write(
    taken: dict[str, tuple[float, Any]], acked: list[str], maybe_written: set[str]
) -> tuple[dict[str, tuple[float, Any]], list[str]]:
    """What was gathered, without the messages both taken and acknowledged since the
    last write: adding and then removing them would leave the set as it is. Not so for
    one whose addition may already be in Redis (a failed write's)."""
    both = taken.keys() & set(acked) - maybe_written if taken and acked else set()
    if not both:
        return taken, acked
    return (
        {tag: entry for tag, entry in taken.items() if tag not in both},
        [tag for tag in acked if tag not in both],
    )


class _AnswersLater:
    """Sends commands on a connection of its own and reads their answers only before
    sending more (or when closed): the event loop never waits on Redis for them.

    What was sent is kept until its answers are read. If the connection turns out to
    have dropped (a Redis restart, a killed client: a send into a dead socket often
    succeeds), it is all sent again on a new connection (adding or removing the same
    entries twice leaves the set as once) and read there; if that fails too, the error
    is raised, as any Redis call would raise it, and it is kept for the next attempt.
    Commands that could not be sent at all are the caller's to keep (`QoS` gathers them
    again). An error answer (Redis out of memory, read-only) is logged: at once, then
    at most once every REFUSALS_REPORTED_EVERY seconds with a count, not every write,
    and once more when writes are taken again."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._connection: Any = None
        self._unconfirmed: list[tuple[Any, ...]] = []  # sent, answers not read yet
        self._refusals = 0  # writes Redis refused since the last log line
        self._report_refusals_at = 0.0  # monotonic

    def send(self, pool: Any, commands: list[tuple[Any, ...]]) -> None:
        if self._pool is not pool:  # kombu replaces its pool after a connection error
            self._drop_connection()
            self._pool = pool
        self.read_answers()
        self._on_a_live_connection(lambda: self._send(commands))
        self._unconfirmed = list(commands)

    def read_ready_answers(self) -> None:
        """Read the answers if they have come (or the connection has ended), without
        waiting: a quiet worker's last write is confirmed, or sent again, the next time
        the loop writes."""
        if not self._unconfirmed:
            return
        try:
            ready = self._connection is None or self._connection.can_read(0)
        except DROPPED:  # it has ended
            self._drop_connection()
            ready = True
        if ready:
            self.read_answers()

    def read_answers(self) -> None:
        if not self._unconfirmed:
            return
        self._on_a_live_connection(self._resend_and_read)
        self._unconfirmed = []

    def close(self) -> None:
        try:
            self.read_answers()
        finally:
            self._drop_connection()
            self._unconfirmed = []

    def _on_a_live_connection(self, action: Callable[[], None]) -> None:
        """Run `action`; if the connection had ended, once more on a new one."""
        try:
            action()
        except DROPPED:
            self._drop_connection()
            try:
                action()
            except DROPPED:
                self._drop_connection()
                raise

    def _resend_and_read(self) -> None:
        if self._connection is None:  # a new one: what the old one carried is sent again
            self._send(self._unconfirmed)
        self._read(len(self._unconfirmed))

    def _send(self, commands: list[tuple[Any, ...]]) -> None:
        if self._connection is None:
            self._connection = self._pool.get_connection()
        self._connection.send_packed_command(self._connection.pack_commands(commands))

    def _read(self, count: int) -> None:
        # Answers are normally waiting already; a link that went silent must not hold
        # the event loop (or a shutdown) for long.
        if not self._connection.can_read(timeout=ANSWER_TIMEOUT):
            raise redis.TimeoutError(f"no answer from Redis within {ANSWER_TIMEOUT:g}s")
        errors: list[Exception] = []  # the first says why (the last: EXEC aborted)
        for _ in range(count):
            try:
                answer = self._connection.read_response()
            except redis.ResponseError as exc:
                errors.append(exc)
                continue
            if isinstance(answer, list):  # EXEC's answers, one per command
                errors.extend(part for part in answer if isinstance(part, Exception))
        if errors:
            self._refused(errors[0])
        elif self._report_refusals_at:
            log.warning(
                "Redis takes updates of the unacked set again (%d more refused since the "
                "last report)",
                self._refusals,
            )
            self._refusals, self._report_refusals_at = 0, 0.0

    def _refused(self, error: Exception) -> None:
        self._refusals += 1
        now = time.monotonic()
        if now < self._report_refusals_at:
            return
        log.error(
            "Redis refused %d update(s) of the unacked set (%s). Meanwhile a message taken "
            "by a worker that dies is published again by the requeue sweep, and one "
            "acknowledged may be delivered again after the visibility timeout (its claim "
            "drops it)",
            self._refusals,
            error,
        )
        self._refusals = 0
        self._report_refusals_at = now + REFUSALS_REPORTED_EVERY

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.disconnect()
            self._pool.release(self._connection)
        self._connection = None


def _detached(channel: Any) -> bool:
    """The channel's transport is gone (it was closed) or let go of its connection
    (Celery collects a lost connection before it closes it)."""
    transport = channel.connection
    return transport is None or transport.client is None


def _is_closed(channel: Any) -> bool:
    return bool(channel.closed) or _detached(channel)


class Channel(kombu_redis.Channel):
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # How to reach Redis, read while the channel's transport still knows: see
        # `_connparams`.
        self._sync_params: dict[str, Any] = super()._connparams(asynchronous=False)

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        # kombu opens a new pool to give back the unacknowledged messages when a channel
        # closes, and a late ack on a closed channel opens one too. After a connection
        # loss Celery may have detached the transport from its connection by then
        # (`client` is None; a closed channel has no transport at all), and kombu would
        # raise AttributeError, which Celery takes for an unrecoverable error: the
        # worker exited with 0 and consumed nothing more.
        if not asynchronous and _detached(self):
            # Nothing waits here for a Redis that does not answer: a late ack runs in
            # the worker's event loop.
            params = dict(self._sync_params)
            for timeout in ("socket_timeout", "socket_connect_timeout"):
                params[timeout] = params.get(timeout) or ANSWER_TIMEOUT
            return params
        found: dict[str, Any] = super()._connparams(asynchronous)
        return found

    @contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        yield client if client else self._shared_client()

    def _shared_client(self) -> redis.Redis:
        # Not `self.client` (the BRPOP client) nor `self.subclient`: kombu pins a
        # connection of their own to those two.
        cached: tuple[Any, redis.Redis] | None = self.__dict__.get("_shared")
        # kombu replaces its pool after a connection error: a new pool, a new client.
        if cached is None or cached[0] is not self.pool:
            cached = (self.pool, self._create_client())
            self.__dict__["_shared"] = cached
        return cached[1]

    def write_gathered(self) -> None:
        if self._qos is not None:
            self._qos.write_gathered()

    def close(self) -> None:
        if self._qos is not None and not self.closed:
            try:
                self._qos.close_writes()
            except Exception as exc:  # closing goes on: kombu restores what it can
                log.warning("could not write the unacked set while closing: %s", exc)
        try:
            super().close()
        finally:
            # kombu gives back the unacknowledged messages after it has dropped its
            # connection pools, through a new one (the BRPOP connection has a pool of
            # its own, which kombu closes): close that one too, sockets and all.
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.disconnect()
            self.__dict__.pop("_shared", None)


class Transport(kombu_redis.Transport):
    Channel = Channel
    in_event_loop = False  # set once a worker's event loop drives this transport
    # From the event loop, the unacked set is written at most this often (seconds).
    write_every = 0.05

    _loop: Any = None
    _next_write = 0.0  # the monotonic time from which the next write may go
    _reminding = False  # a timer is set, or about to be, for the next write
    _reminder: Any = None  # that timer: it turns a quiet loop when the write may go

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        super().register_with_event_loop(connection, loop)
        self.in_event_loop, self._loop = True, loop
        loop.on_tick.add(self._on_tick)

    def close_connection(self, connection: Any) -> None:
        try:
            super().close_connection(connection)  # closing its channels writes what they gathered
        finally:
            if self._loop is not None:  # a consumer that reconnects registers a new transport
                self._loop.on_tick.discard(self._on_tick)
            if self._reminder is not None:
                self._reminder.cancel()
                self._reminder = None

    def write_soon(self) -> None:
        """Something was gathered: have the loop write it once `write_every` has
        passed, even if no event wakes it. The timer is set at the start of the
        loop's next turn, before the loop works out how long it may sleep (a timer
        set from `on_tick` would come too late for that), and from another thread
        `call_soon` wakes the loop for it."""
        if self._reminding or self._loop is None:
            return
        self._reminding = True
        self._loop.call_soon(self._set_reminder)

    def _set_reminder(self) -> None:
        delay = max(0.0, self._next_write - time.monotonic())
        self._reminder = self._loop.call_later(delay, self._remind)

    def _remind(self) -> None:
        # The turn this fires in writes: the loop runs `on_tick` after its timers.
        self._reminder, self._reminding = None, False

    def _on_tick(self) -> None:
        """Each turn of the event loop: write what the channels gathered if
        `write_every` has passed since the last write."""
        now = time.monotonic()
        if now < self._next_write:
            return
        self._next_write = now + self.write_every
        for channel in list(self.channels):
            channel.write_gathered()
