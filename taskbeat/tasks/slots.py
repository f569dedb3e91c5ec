"""A task's slots: its schedule, the bounds on it, and its next slot from a given time.

Shared by the task operations (arming a new or edited task), the API's preview of the
next runs, and the scheduler (advancing a task after dispatch), so all apply start_at,
end_at and max_runs alike. They read a task through `TimedTask`, so the scheduler can
pass plain rows as well as ORM objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from taskbeat.schedules import Schedule, first_fire_time, parse_schedule


class TimedTask(Protocol):
    """The fields of a task that decide when it runs."""

    @property
    def schedule(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def start_at(self) -> datetime | None: ...
    @property
    def end_at(self) -> datetime | None: ...
    @property
    def max_runs(self) -> int | None: ...
    @property
    def run_count(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_slot_at(self) -> datetime | None: ...
    @property
    def next_run_at(self) -> datetime | None: ...


def schedule_of(task: TimedTask) -> Schedule:
    """The task's schedule; intervals and `now` count from start_at, else creation."""
    return parse_schedule(task.schedule, task.timezone, task.start_at or task.created_at)


def within_bounds(task: TimedTask, when: datetime | None, runs_so_far: int) -> datetime | None:
    """`when`, unless the task has run out: paused, past end_at, max_runs reached."""
    if when is None or not task.enabled:
        return None
    if task.end_at is not None and when > task.end_at:
        return None
    if task.max_runs is not None and runs_so_far >= task.max_runs:
        return None
    return when


def first_slot(task: TimedTask, now: datetime) -> datetime | None:
    """The slot a new, edited or resumed task is next due at, counting from now.

    A one-time task whose time the scheduler has already taken stays done: resuming it
    or editing other fields does not run it again; moving it to a later time does.
    """
    schedule = schedule_of(task)
    when = first_fire_time(schedule, now, task.start_at)
    already_taken = task.last_slot_at is not None and when is not None and when <= task.last_slot_at
    if not schedule.recurring and already_taken:
        return None
    return within_bounds(task, when, task.run_count)


def upcoming_slots(task: TimedTask, count: int) -> list[datetime]:
    """The task's next `count` fire times from next_run_at on (none while paused or done)."""
    schedule = schedule_of(task)
    times: list[datetime] = []
    when = task.next_run_at
    runs = task.run_count
    while when is not None and len(times) < count:
        times.append(when)
        runs += 1
        when = within_bounds(task, schedule.next_fire_time(when), runs)
    return times
