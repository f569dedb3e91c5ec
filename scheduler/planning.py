"""Which slots of a due task run, which are skipped, and when it is next due (pure).

The misfire policy decides what a late slot becomes; the overlap policy decides whether
a slot may start while an earlier run of the task is still active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from taskbeat.models import Task
from taskbeat.schedules import Schedule
from taskbeat.status import MisfirePolicy, OverlapPolicy, Trigger
from taskbeat.tasks import within_bounds


@dataclass(frozen=True)
class Slot:
    at: datetime
    trigger: Trigger


@dataclass(frozen=True)
class SkippedSlot:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Plan:
    run: list[Slot] = field(default_factory=list)
    skipped: list[SkippedSlot] = field(default_factory=list)
    next_run_at: datetime | None = None


def plan_task(
    task: Task, schedule: Schedule, now: datetime, *, has_active: bool, run_all_cap: int
) -> Plan:
    """Plan a task whose next_run_at has come.

    1. Collect the slots from next_run_at up to now, as the misfire policy says:
       on time (late by no more than the grace) always runs; beyond the grace,
       `run_once` runs the first missed slot alone, `skip` records it as skipped,
       `run_all` runs each missed slot, up to `run_all_cap`.
    2. The next slot is the first fire time after now (or after the last slot taken).
    3. end_at and max_runs stop both.
    4. With overlap `skip`, slots that would start beside an active run are skipped.
    """
    assert task.next_run_at is not None
    first = task.next_run_at
    late = now - first > timedelta(seconds=task.misfire_grace)
    if not late or task.misfire is MisfirePolicy.RUN_ONCE:
        trigger = Trigger.CATCH_UP if late else Trigger.SCHEDULE
        slots, skipped = [Slot(first, trigger)], []
    elif task.misfire is MisfirePolicy.SKIP:
        missed_by = (now - first).total_seconds()
        slots, skipped = [], [SkippedSlot(first, f"missed by {missed_by:.0f}s (misfire: skip)")]
    else:
        slots, skipped = _missed_slots(schedule, first, now, run_all_cap), []
    slots = _bounded(task, slots)
    last_taken = max((s.at for s in (*slots, *skipped)), default=first)
    next_run_at = within_bounds(
        task, schedule.next_fire_time(max(now, last_taken)), task.run_count + len(slots)
    )
    if has_active and task.overlap is OverlapPolicy.SKIP and slots:
        reason = "the previous run is still active (overlap: skip)"
        skipped = [*skipped, *(SkippedSlot(s.at, reason) for s in slots)]
        slots = []
    return Plan(slots, skipped, next_run_at)


def _missed_slots(schedule: Schedule, first: datetime, now: datetime, cap: int) -> list[Slot]:
    slots = [Slot(first, Trigger.CATCH_UP)]
    when = schedule.next_fire_time(first)
    while when is not None and when <= now and len(slots) < cap:
        slots.append(Slot(when, Trigger.CATCH_UP))
        when = schedule.next_fire_time(when)
    return slots


def _bounded(task: Task, slots: list[Slot]) -> list[Slot]:
    """The slots end_at and max_runs still allow."""
    kept: list[Slot] = []
    for slot in slots:
        if within_bounds(task, slot.at, task.run_count + len(kept)) is None:
            break
        kept.append(slot)
    return kept
