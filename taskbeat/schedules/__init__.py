"""Schedules: parse one as written and compute its fire times, in the task's time zone.

Forms: 5-field cron (read as Debian cron reads it), 6-field cron with seconds first, the
@-names, `every N seconds|minutes|hours|days`, `now`, and ISO-8601 timestamps.

- `parsing`: which form a text takes; the time zone.
- `fields`, `matching`, `cron`: the cron grammar, the wall times it selects, the schedule.
- `refusals`: every reason a cron expression is refused.
- `walltime`: wall-clock times to instants across DST (the gap and fold rule).
- `intervals`: `every ...`, on an exact grid from an anchor.
- `base`: the Schedule protocol, one-time schedules, first fire time and preview.
- `words`: a schedule in words, for people.
"""

from __future__ import annotations

from taskbeat.schedules.base import OnceSchedule, Schedule, first_fire_time, preview
from taskbeat.schedules.cron import CronSchedule
from taskbeat.schedules.intervals import IntervalSchedule
from taskbeat.schedules.parsing import parse_schedule, parse_timestamp, parse_timezone
from taskbeat.schedules.refusals import CronRefused, Refusal
from taskbeat.schedules.walltime import client_time, wall_clock_to_utc
from taskbeat.schedules.words import describe

__all__ = [
    "CronRefused",
    "CronSchedule",
    "IntervalSchedule",
    "OnceSchedule",
    "Refusal",
    "Schedule",
    "client_time",
    "describe",
    "first_fire_time",
    "parse_schedule",
    "parse_timestamp",
    "parse_timezone",
    "preview",
    "wall_clock_to_utc",
]
