"""The outbox relay: every run is a row before it is a message.

1. Lease: the transaction that writes executions to publish (the scheduler's dispatch,
   run-now) or finds them due (`lease_due`: retries, slots held by jitter or
   `queue_one`, manual runs whose fast path failed) sets their `publish_lease_until`,
   so no other scheduler publishes them meanwhile.
2. Commit.
3. Publish the leased rows' messages, pipelined over one Redis connection
   (`publish_leased`).
4. Mark what was published `queued`, in one statement; give what was not a short lease
   (`publish_retry_after`), so any scheduler tries it again soon, neither in a tight
   loop against a Redis that is down nor only when the whole lease runs out. Each of
   the two commits on its own: a scheduler frozen between them holds no row a worker
   is about to claim.
5. A lease that runs out (its publisher died between 2 and 4) makes the row due again
   for any scheduler at step 1.
6. Republish (`republish_queued`): queued rows whose message may be gone, all of them
   once Redis lost its data, else those unclaimed for `requeue_after`. A duplicate
   message is harmless: the worker's claim lets one through.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.db import engine_of, one_statement
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.store.sql import Executor

log = logging.getLogger(__name__)


class RoutedTask(Protocol):
    """What a message takes from its task."""

    @property
    def queue(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def timeout(self) -> float | None: ...


def run_message(execution_id: int, task: RoutedTask) -> RunMessage:
    """The message for an execution of `task`: routed and limited as the task says."""
    return RunMessage(execution_id, task.queue, task.priority, task.timeout)


def lease_due(db: Executor, now: datetime, settings: Settings) -> list[RunMessage]:
    """Step 1 for rows already written: lease those due now; their messages."""
    lease_until = now + timedelta(seconds=settings.publish_lease)
    return store.outbox.lease_due(db, now, lease_until, settings.scheduler_batch_size)


def publish_leased(
    session_factory: sessionmaker[Session],
    publisher: Publisher,
    messages: Sequence[RunMessage],
    clock: Clock,
    settings: Settings,
) -> list[int]:
    """Steps 3 and 4, after the commit: publish, then mark; the ids published."""
    if not messages:
        return []
    published = publisher.publish(messages)
    sent = set(published)
    failed = [m.execution_id for m in messages if m.execution_id not in sent]
    now = clock()
    with one_statement(engine_of(session_factory)) as connection:
        store.outbox.mark_queued(connection, published, now)
        retry_at = now + timedelta(seconds=settings.publish_retry_after)
        store.outbox.lease(connection, failed, retry_at)
    return published


def republish_queued(
    settings: Settings, session_factory: sessionmaker[Session], publisher: Publisher, clock: Clock
) -> int:
    """Step 6: publish again the queued runs whose message may be gone; how many.

    After Redis lost its data that is every queued run, page by page.
    """
    now = clock()
    lost_everything = publisher.broker_was_reset()
    cutoff = None if lost_everything else now - timedelta(seconds=settings.requeue_after)
    batch = settings.scheduler_batch_size
    total, after_id = 0, 0
    while True:
        with session_factory() as session:
            messages = store.outbox.queued_before(session, cutoff, batch, after_id=after_id)
        published = publisher.publish(messages)
        with one_statement(engine_of(session_factory)) as connection:
            store.outbox.mark_requeued(connection, published, now)
        total += len(published)
        if len(messages) < batch or len(published) < len(messages) or not lost_everything:
            break
        after_id = messages[-1].execution_id
    if total:
        reason = "Redis lost its data" if lost_everything else "unclaimed too long"
        log.warning("published %d queued runs again (%s)", total, reason)
    return total
