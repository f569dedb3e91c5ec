"""A task's slots: its schedule, the bounds on it, and its next slot from a given time.

Shared by the API's task operations (arming a new or edited task) and the scheduler
(advancing one after dispatch), so both apply start_at, end_at and max_runs alike.
"""

from __future__ import annotations

from datetime import datetime

from taskbeat.models import Task
from taskbeat.schedules import Schedule, first_fire_time, parse_schedule


def schedule_of(task: Task) -> Schedule:
    return parse_schedule(task.schedule, task.timezone, task.anchor)


def within_bounds(task: Task, when: datetime | None, runs_so_far: int) -> datetime | None:
    """`when`, unless the task has run out: paused, past end_at, max_runs reached."""
    if when is None or not task.enabled:
        return None
    if task.end_at is not None and when > task.end_at:
        return None
    if task.max_runs is not None and runs_so_far >= task.max_runs:
        return None
    return when


def first_slot(task: Task, now: datetime) -> datetime | None:
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
