"""After commit: publish executions, then mark them queued (or release them for retry)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.models import Task
from taskbeat.publisher import Publisher, RunMessage


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

    Those published become `queued`; the rest lose their lease at once, so the next
    scheduler wake-up publishes them instead of waiting for the lease to run out.
    """
    published = publisher.publish(messages)
    sent = set(published)
    failed = [m.execution_id for m in messages if m.execution_id not in sent]
    with session_factory.begin() as session:
        store.mark_queued(session, published, clock())
        store.lease_executions(session, failed, None)
    return published
