"""Which slots of a due task run, which are skipped, and when it is next due (pure).

The misfire policy decides what a late slot becomes; the overlap policy decides whether
a slot may start while an earlier run of the task is still active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from taskbeat.schedules import Schedule
from taskbeat.status import MisfirePolicy, OverlapPolicy, Trigger
from taskbeat.store.executions import ActiveRuns
from taskbeat.tasks.slots import TimedTask, within_bounds


class PlannedTask(TimedTask, Protocol):
    """What planning reads of a task besides its timing."""

    @property
    def misfire(self) -> MisfirePolicy: ...
    @property
    def misfire_grace(self) -> float: ...
    @property
    def overlap(self) -> OverlapPolicy: ...


@dataclass(frozen=True)
class Slot:
    at: datetime
    trigger: Trigger
    # Written but not published yet: it waits behind a run in progress (`queue_one`).
    held: bool = False


@dataclass(frozen=True)
class SkippedSlot:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Plan:
    run: list[Slot] = field(default_factory=list)
    skipped: list[SkippedSlot] = field(default_factory=list)
    next_run_at: datetime | None = None

    @property
    def last_slot(self) -> datetime | None:
        """The latest slot the plan takes, run or skipped."""
        return max(
            [slot.at for slot in self.run] + [skip.at for skip in self.skipped], default=None
        )


def plan_task(
    task: PlannedTask, schedule: Schedule, now: datetime, *, active: ActiveRuns, run_all_cap: int
) -> Plan:
    """Plan a task whose next_run_at has come.

    1. Collect the due slots, as the misfire policy says. A slot late by no more than
       the grace period is on time. `run_once` runs the first due slot (a catch-up if
       it is late) and lets the rest collapse into it; `skip` runs it only if it is on
       time, else records it as skipped; `run_all` runs every due slot, up to
       `run_all_cap`.
    2. end_at and max_runs cut the slots short.
    3. The overlap policy: `skip` skips every slot while a run is active (scheduled,
       queued or running); `queue_one` lets one run wait behind the one in progress
       (held, unpublished, until it ends) and skips the rest; `allow` runs them all.
    4. The next slot is the first fire time after now (and after the last slot taken),
       unless end_at or max_runs, counting only the slots that run, have been reached.
    """
    assert task.next_run_at is not None
    first = task.next_run_at
    grace = timedelta(seconds=task.misfire_grace)
    late = now - first > grace
    skipped: list[SkippedSlot] = []
    if task.misfire is MisfirePolicy.RUN_ALL:
        slots = _due_slots(schedule, first, now, grace, run_all_cap)
    elif late and task.misfire is MisfirePolicy.SKIP:
        missed_by = (now - first).total_seconds()
        slots = []
        skipped = [SkippedSlot(first, f"missed by {missed_by:.0f}s (misfire: skip)")]
    else:
        slots = [Slot(first, Trigger.CATCH_UP if late else Trigger.SCHEDULE)]
    slots, overlapping = _overlap(task.overlap, _bounded(task, slots), active)
    skipped = [*skipped, *overlapping]
    last_taken = Plan(slots, skipped).last_slot or first
    next_run_at = within_bounds(
        task, schedule.next_fire_time(max(now, last_taken)), task.run_count + len(slots)
    )
    return Plan(slots, skipped, next_run_at)


def _overlap(
    policy: OverlapPolicy, slots: list[Slot], active: ActiveRuns
) -> tuple[list[Slot], list[SkippedSlot]]:
    """The slots the overlap policy lets run, and the ones it skips."""
    if policy is OverlapPolicy.SKIP and active.any:
        reason = "the previous run is still active (overlap: skip)"
        return [], [SkippedSlot(slot.at, reason) for slot in slots]
    if policy is OverlapPolicy.QUEUE_ONE:
        # One run in progress and one waiting at most: the first slot goes now if
        # nothing is in progress, and one more may wait behind it.
        room = 0 if active.waiting else (1 if active.in_flight else 2)
        kept = [
            Slot(slot.at, slot.trigger, held=active.in_flight > 0 or index > 0)
            for index, slot in enumerate(slots[:room])
        ]
        reason = "a run is already waiting behind the one in progress (overlap: queue_one)"
        return kept, [SkippedSlot(slot.at, reason) for slot in slots[room:]]
    return slots, []


def _due_slots(
    schedule: Schedule, first: datetime, now: datetime, grace: timedelta, cap: int
) -> list[Slot]:
    """Every slot from `first` up to now, up to `cap`; each labelled by its own lateness."""
    slots: list[Slot] = []
    when: datetime | None = first
    while when is not None and when <= now and len(slots) < cap:
        slots.append(Slot(when, Trigger.CATCH_UP if now - when > grace else Trigger.SCHEDULE))
        when = schedule.next_fire_time(when)
    return slots


def _bounded(task: TimedTask, slots: list[Slot]) -> list[Slot]:
    """The slots end_at and max_runs still allow."""
    kept: list[Slot] = []
    for slot in slots:
        if within_bounds(task, slot.at, task.run_count + len(kept)) is None:
            break
        kept.append(slot)
    return kept
