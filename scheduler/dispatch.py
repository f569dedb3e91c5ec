"""One scheduler wake-up: turn due slots and due executions into published messages.

1. In one short transaction:
   a. lock the tasks whose next_run_at has come (index scan, SKIP LOCKED);
   b. plan each (misfire, overlap, bounds) and insert its execution rows in one
      statement, the ones to publish now carrying this scheduler's publish lease;
   c. advance each task's next_run_at;
   d. lease the due `scheduled` executions nobody holds (retries, manual runs, slots
      held by jitter or `queue_one`, rows a crashed scheduler never published).
2. Commit, then publish the leased rows, pipelined (the outbox relay, steps 3-4).
3. Mark the published rows `queued` in one statement; give any that failed a short
   lease, so a wake-up soon tries them again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from scheduler.planning import Plan, plan_task
from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.errors import InvalidInput
from taskbeat.models import Task
from taskbeat.outbox import relay
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.store.executions import NO_ACTIVE_RUNS, ActiveRuns
from taskbeat.tasks.slots import schedule_of
from taskbeat.tasks.state import TaskEvent, next_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickResult:
    published: int
    skipped: int
    more: bool  # a batch came back full: tick again straight away
    next_due: datetime | None  # the earliest known due time after this tick


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        publisher: Publisher,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._publisher = publisher
        self._clock = clock

    def tick(self) -> TickResult:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._settings.publish_lease)
        batch = self._settings.scheduler_batch_size
        with self._sessions.begin() as session:
            tasks = store.tasks.due_tasks(session, now, batch)
            slot_messages, skipped = self._dispatch_tasks(session, tasks, now, lease_until)
            pending = relay.lease_due(session, now, self._settings)
        published = relay.publish_leased(
            self._sessions, self._publisher, slot_messages + pending, self._clock, self._settings
        )
        more = len(tasks) == batch or len(pending) == batch
        return TickResult(len(published), skipped, more, None if more else self.next_due())

    def next_due(self) -> datetime | None:
        with self._sessions() as session:
            times = [store.tasks.earliest_next_run(session), store.outbox.earliest_due(session)]
        return min((t for t in times if t is not None), default=None)

    def _dispatch_tasks(
        self, session: Session, tasks: Sequence[Task], now: datetime, lease_until: datetime
    ) -> tuple[list[RunMessage], int]:
        if not tasks:
            return [], 0
        active = store.executions.active_runs(session, [task.id for task in tasks])
        planned = [
            (task, plan)
            for task in tasks
            if (plan := self._plan(task, now, active.get(task.id, NO_ACTIVE_RUNS))) is not None
        ]
        rows = {
            row: task for task, plan in planned for row in self._rows(task, plan, now, lease_until)
        }
        ids = store.executions.insert_executions(session, list(rows))
        for task, plan in planned:
            _advance(task, plan, ids, active=active.get(task.id, NO_ACTIVE_RUNS))
        messages = [
            relay.run_message(ids[key], task)
            for row, task in rows.items()
            if row.publish_lease_until is not None and (key := row.key()) in ids
        ]
        return messages, sum(len(plan.skipped) for _, plan in planned)

    def _plan(self, task: Task, now: datetime, active: ActiveRuns) -> Plan | None:
        """The task's plan, or None if its schedule no longer parses (it is stopped)."""
        try:
            schedule = schedule_of(task)
        except InvalidInput as exc:
            # Say, a time zone that left the tz database: stop it, do not loop on it.
            log.error(
                "task %s (id %s) stopped: its schedule no longer parses: %s",
                task.name,
                task.id,
                exc,
            )
            task.next_run_at = None
            task.state = next_state(task.state, TaskEvent.SCHEDULE_BROKEN)
            return None
        return plan_task(task, schedule, now, active=active, run_all_cap=self._settings.run_all_cap)

    def _rows(
        self, task: Task, plan: Plan, now: datetime, lease_until: datetime
    ) -> list[store.executions.NewExecution]:
        """The rows for a plan: runs (leased, unless jitter holds them back) and skips."""
        rows = []
        for slot in plan.run:
            due_at = slot.at + _jitter(task, slot.at)
            lease = lease_until if due_at <= now and not slot.held else None
            rows.append(
                store.executions.first_attempt(
                    task,
                    slot.at,
                    now,
                    trigger=slot.trigger,
                    due_at=due_at,
                    publish_lease_until=lease,
                )
            )
        for skip in plan.skipped:
            rows.append(
                store.executions.first_attempt(
                    task,
                    skip.at,
                    now,
                    status=ExecutionStatus.SKIPPED,
                    finished_at=now,
                    error_message=skip.reason,
                )
            )
        return rows


def _advance(
    task: Task, plan: Plan, ids: dict[store.executions.SlotKey, int], *, active: ActiveRuns
) -> None:
    """Move the task past the slots it took; count only the runs actually inserted."""
    ran = [slot for slot in plan.run if (task.id, slot.at, 0, 1) in ids]
    if len(ran) < len(plan.run):
        log.warning("task %s: a slot already had an execution; not run twice", task.name)
    task.next_run_at = plan.next_run_at
    task.run_count += len(ran)
    if plan.last_slot is not None:  # later than any slot taken before: it was next_run_at
        task.last_slot_at = plan.last_slot
    if plan.next_run_at is None and not ran and not active.any:
        # Nothing runs now and nothing will: a recurring task has reached its end; a
        # one-time task whose only slot was skipped did not do its job.
        event = TaskEvent.SCHEDULE_ENDED if task.recurring else TaskEvent.ONLY_SLOT_SKIPPED
        task.state = next_state(task.state, event)


def _jitter(task: Task, slot: datetime) -> timedelta:
    """A delay of up to task.jitter seconds, the same for a slot whoever computes it."""
    if task.jitter <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(f"{task.id}:{slot.isoformat()}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return timedelta(seconds=task.jitter * fraction)
