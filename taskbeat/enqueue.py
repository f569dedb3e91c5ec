"""After commit: publish executions, then mark them queued (or release them for retry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.models import Task
from taskbeat.publisher import Publisher, RunMessage

PUBLISH_RETRY_AFTER = timedelta(seconds=2)


def run_message(execution_id: int, task: Task) -> RunMessage:
    """The message for an execution of `task`: its id, routed and limited as the task says."""
    return RunMessage(execution_id, task.queue, task.priority, task.timeout)


def publish_leased(
    session_factory: sessionmaker[Session],
    publisher: Publisher,
    messages: Sequence[RunMessage],
    clock: Clock,
) -> list[int]:
    """Publish executions this process holds the publish lease on; the ids published.

    Those published become `queued`. The rest keep a short lease, so any scheduler
    tries them again in PUBLISH_RETRY_AFTER seconds rather than at once in a tight
    loop against a Redis that is down, or only when the full lease runs out.
    """
    published = publisher.publish(messages)
    sent = set(published)
    failed = [m.execution_id for m in messages if m.execution_id not in sent]
    now = clock()
    with session_factory.begin() as session:
        store.mark_queued(session, published, now)
        store.lease_executions(session, failed, now + PUBLISH_RETRY_AFTER)
    return published
