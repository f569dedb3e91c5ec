"""Which slots of a due task run, which are skipped, and when it is next due (pure).

The misfire policy decides what a late slot becomes; the overlap policy decides whether
a slot may start while an earlier run of the task is still active.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
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


_EARLIER_RUN = "the run of an earlier slot"


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
    # Folded into the run (or skip) of this slot by `run_once`: the dispatcher names
    # that execution in the reason once it has an id.
    coalesced_into: datetime | None = None

    def naming(self, execution_id: int | None) -> str:
        """The reason, naming the execution this slot was coalesced into (by its slot
        when it has no id: that row was written before)."""
        if self.coalesced_into is None:
            return self.reason
        into = f"execution {execution_id}" if execution_id else f"the run of {self.coalesced_into}"
        return self.reason.replace(_EARLIER_RUN, into, 1)


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


@dataclass(frozen=True)
class PlanLimits:
    run_all_cap: int = 100  # slots `run_all` runs in one wake-up
    listed_cap: int = 100  # slots past those a plan records one by one


def plan_task(
    task: PlannedTask,
    schedule: Schedule,
    now: datetime,
    *,
    active: ActiveRuns,
    limits: PlanLimits = PlanLimits(),
) -> Plan:
    """Plan a task whose next_run_at has come.

    1. Collect the due slots, from next_run_at up to now. A slot late by no more than
       the grace period is on time. Every due slot ends with a row: `run_once` runs the
       first (a catch-up if it is late) and records the rest as coalesced into it;
       `skip` runs the slots on time and records the late ones as skipped; `run_all`
       runs them all, up to `run_all_cap`, and records the rest as skipped. Past
       `listed_cap` recorded slots, the last one's reason covers those after it.
    2. end_at and max_runs cut the slots short.
    3. The overlap policy: `skip` skips every slot while a run is active (scheduled,
       queued or running); `queue_one` lets one run wait behind the one in progress
       (held, unpublished, until it ends) and skips the rest; `allow` runs them all.
    4. The next slot is the first fire time after now, unless end_at or max_runs,
       counting only the slots that run, have been reached.
    """
    assert task.next_run_at is not None
    first = task.next_run_at
    grace = timedelta(seconds=task.misfire_grace)
    runs_at_most = limits.run_all_cap if task.misfire is MisfirePolicy.RUN_ALL else 1
    due, following = _due_slots(schedule, first, now, grace, runs_at_most + limits.listed_cap)
    more = following is not None and following <= now
    slots, skipped = _by_misfire(task.misfire, due, now, limits.run_all_cap)
    slots = _bounded(task, slots)
    skipped = _summarized(_skips_within_bounds(task, skipped, slots), more, now)
    slots, overlapping = _overlap(task.overlap, slots, active)
    skipped = sorted([*skipped, *overlapping], key=lambda skip: skip.at)
    # Every slot up to now was taken (run or skipped): the next is the first fire time
    # after now, which the walk over the due slots found already, unless it stopped at
    # the listing cap.
    after_now = schedule.next_fire_time(now) if more else following
    next_run_at = within_bounds(task, after_now, task.run_count + len(slots))
    return Plan(slots, skipped, next_run_at)


def _by_misfire(
    policy: MisfirePolicy, due: list[Slot], now: datetime, run_all_cap: int
) -> tuple[list[Slot], list[SkippedSlot]]:
    """The due slots the misfire policy runs, and the ones it records as skipped."""
    if policy is MisfirePolicy.RUN_ALL:
        reason = f"more than {run_all_cap} slots were due at once (misfire: run_all)"
        return due[:run_all_cap], [SkippedSlot(slot.at, reason) for slot in due[run_all_cap:]]
    if policy is MisfirePolicy.SKIP:
        on_time = [slot for slot in due if slot.trigger is Trigger.SCHEDULE]
        late = [slot for slot in due if slot.trigger is Trigger.CATCH_UP]
        return on_time, [SkippedSlot(slot.at, _missed(slot.at, now)) for slot in late]
    into = due[0].at
    coalesced = f"coalesced into {_EARLIER_RUN} (misfire: run_once)"
    return due[:1], [SkippedSlot(slot.at, coalesced, coalesced_into=into) for slot in due[1:]]


def _missed(slot: datetime, now: datetime) -> str:
    return f"missed by {(now - slot).total_seconds():.0f}s (misfire: skip)"


def _skips_within_bounds(
    task: TimedTask, skipped: list[SkippedSlot], slots: list[Slot]
) -> list[SkippedSlot]:
    """The skips end_at still allows; none after the run that reached max_runs."""
    reached = task.max_runs is not None and task.run_count + len(slots) >= task.max_runs
    last_run = slots[-1].at if slots else None
    return [
        skip
        for skip in skipped
        if within_bounds(task, skip.at, task.run_count) is not None
        and not (reached and (last_run is None or skip.at > last_run))
    ]


def _summarized(skipped: list[SkippedSlot], more: bool, now: datetime) -> list[SkippedSlot]:
    """With slots left unlisted past the cap, the last listed one says so."""
    if not (more and skipped):
        return skipped
    last = skipped[-1]
    until = now.astimezone(UTC).isoformat(timespec="seconds")
    note = f"{last.reason}; so were the slots after it up to {until}, not listed one by one"
    return [*skipped[:-1], replace(last, reason=note)]


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
) -> tuple[list[Slot], datetime | None]:
    """Every slot from `first` up to now, up to `cap`, each labelled by its own
    lateness; and the fire time that follows them (None: the schedule ends)."""
    slots: list[Slot] = []
    when: datetime | None = first
    while when is not None and when <= now and len(slots) < cap:
        slots.append(Slot(when, Trigger.CATCH_UP if now - when > grace else Trigger.SCHEDULE))
        when = schedule.next_fire_time(when)
    return slots, when


def _bounded(task: TimedTask, slots: list[Slot]) -> list[Slot]:
    """The slots end_at and max_runs still allow."""
    kept: list[Slot] = []
    for slot in slots:
        if within_bounds(task, slot.at, task.run_count + len(kept)) is None:
            break
        kept.append(slot)
    return kept
