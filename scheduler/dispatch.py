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

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from scheduler.planning import Plan, PlanLimits, SkippedSlot, plan_task
from taskbeat import store
from taskbeat.clock import Clock
from taskbeat.errors import InvalidInput
from taskbeat.outbox import relay
from taskbeat.outbox.messages import RunMessage
from taskbeat.outbox.publisher import Publisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus
from taskbeat.store.executions import NO_ACTIVE_RUNS, ActiveRuns, SlotKey
from taskbeat.store.tasks import DueTask, TaskAdvance
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
        self._limits = PlanLimits(settings.run_all_cap, settings.missed_slots_listed)

    def tick(self) -> TickResult:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._settings.publish_lease)
        batch = self._settings.scheduler_batch_size
        with self._sessions.begin() as session:
            # Core statements on the session's connection: rows, not ORM objects.
            connection = session.connection()
            tasks = store.tasks.due_tasks(connection, now, batch)
            slot_messages, skipped = self._dispatch_tasks(connection, tasks, now, lease_until)
            pending = relay.lease_due(connection, now, self._settings)
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
        self, db: Connection, tasks: Sequence[DueTask], now: datetime, lease_until: datetime
    ) -> tuple[list[RunMessage], int]:
        if not tasks:
            return [], 0
        found = store.executions.active_runs(db, [task.id for task in tasks])
        active = {task.id: found.get(task.id, NO_ACTIVE_RUNS) for task in tasks}
        plans = [(task, self._plan(task, now, active[task.id])) for task in tasks]
        rows = {
            row: task for task, plan in plans if plan for row in _rows(task, plan, now, lease_until)
        }
        ids = store.executions.insert_executions(db, list(rows))
        ids |= _insert_coalesced(db, plans, ids, now)
        advances = [_advance(task, plan, ids, active[task.id], now) for task, plan in plans]
        store.tasks.advance_tasks(db, advances)
        messages = [
            relay.run_message(ids[key], task)
            for row, task in rows.items()
            if row.publish_lease_until is not None and (key := row.key()) in ids
        ]
        return messages, sum(len(plan.skipped) for _, plan in plans if plan)

    def _plan(self, task: DueTask, now: datetime, active: ActiveRuns) -> Plan | None:
        """The task's plan, or None if its schedule no longer parses (it is then stopped)."""
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
            return None
        return plan_task(task, schedule, now, active=active, limits=self._limits)


def _rows(
    task: DueTask, plan: Plan, now: datetime, lease_until: datetime
) -> list[store.executions.NewExecution]:
    """The rows for a plan: runs (leased, unless jitter or `queue_one` holds them back)
    and skips."""
    rows = []
    for slot in plan.run:
        due_at = slot.at + _jitter(task, slot.at)
        lease = lease_until if due_at <= now and not slot.held else None
        rows.append(
            store.executions.first_attempt(
                task.id,
                task.name,
                slot.at,
                now,
                trigger=slot.trigger,
                due_at=due_at,
                publish_lease_until=lease,
            )
        )
    rows.extend(
        _skipped(task, skip, skip.reason, now) for skip in plan.skipped if not skip.coalesced_into
    )
    return rows


def _insert_coalesced(
    db: Connection, plans: list[tuple[DueTask, Plan | None]], ids: dict[SlotKey, int], now: datetime
) -> dict[SlotKey, int]:
    """Rows for the slots `run_once` folded into a catch-up, each naming its execution:
    a second statement, only on a wake-up that caught up."""
    rows = [
        _skipped(task, skip, skip.naming(ids.get((task.id, skip.coalesced_into, 0, 1))), now)
        for task, plan in plans
        if plan
        for skip in plan.skipped
        if skip.coalesced_into
    ]
    return store.executions.insert_executions(db, rows)


def _skipped(
    task: DueTask, skip: SkippedSlot, reason: str, now: datetime
) -> store.executions.NewExecution:
    return store.executions.first_attempt(
        task.id,
        task.name,
        skip.at,
        now,
        status=ExecutionStatus.SKIPPED,
        finished_at=now,
        error_message=reason,
    )


def _advance(
    task: DueTask, plan: Plan | None, ids: dict[SlotKey, int], active: ActiveRuns, now: datetime
) -> TaskAdvance:
    """Where the task goes past the slots it took; only the runs inserted count. With no
    plan (its schedule no longer parses) it stops, failed."""
    if plan is None:
        failed = next_state(task.state, TaskEvent.SCHEDULE_BROKEN)
        return TaskAdvance(
            task.id, None, task.run_count, task.last_slot_at, task.last_run_at, failed
        )
    ran = [slot for slot in plan.run if (task.id, slot.at, 0, 1) in ids]
    if len(ran) < len(plan.run):
        log.warning("task %s: a slot already had an execution; not run twice", task.name)
    state = task.state
    if plan.next_run_at is None and not ran and not active.any:
        # Nothing runs now and nothing will: a recurring task has reached its end; a
        # one-time task whose only slot was skipped did not do its job.
        event = TaskEvent.SCHEDULE_ENDED if task.recurring else TaskEvent.ONLY_SLOT_SKIPPED
        state = next_state(state, event)
    # The last slot taken is later than any taken before: it was next_run_at at least.
    last_slot = plan.last_slot or task.last_slot_at
    last_run = now if ran else task.last_run_at  # what the task's "last run" shows
    return TaskAdvance(
        task.id, plan.next_run_at, task.run_count + len(ran), last_slot, last_run, state
    )


def _jitter(task: DueTask, slot: datetime) -> timedelta:
    """A delay of up to task.jitter seconds, the same for a slot whoever computes it."""
    if task.jitter <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(f"{task.id}:{slot.isoformat()}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return timedelta(seconds=task.jitter * fraction)
