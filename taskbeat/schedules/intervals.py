"""`every N seconds|minutes|hours|days`: fixed elapsed time on a grid from an anchor (the
task's start_at, else its creation), counted in real seconds, so DST never moves it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskbeat.errors import InvalidSchedule

UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# ASCII digits only: `\d` would also take '٣', which int() reads as 3.
EVERY = re.compile(r"^every\s+([0-9]+)\s+(second|minute|hour|day)s?$", re.IGNORECASE | re.ASCII)
LONGEST_PERIOD = timedelta(days=366)


@dataclass(frozen=True)
class IntervalSchedule:
    text: str
    period: timedelta
    anchor: datetime
    recurring: bool = True

    def next_fire_time(self, after: datetime) -> datetime | None:
        if after < self.anchor:
            return self.anchor
        # timedelta // timedelta divides whole microseconds as integers: exact at any
        # distance from the anchor, where a float quotient drifts after ~285 years.
        periods = (after - self.anchor) // self.period + 1
        try:
            return self.anchor + periods * self.period
        except OverflowError:
            return None  # past the year 9999


def parse_every(text: str, anchor: datetime) -> IntervalSchedule | None:
    """The interval `text` writes, None if it is not an `every ...`, or InvalidSchedule."""
    match = EVERY.match(text)
    if match is None and text[:6].lower() in ("every", "every "):
        raise InvalidSchedule(
            "write `every N seconds|minutes|hours|days`, N in digits 0-9 (every 15 minutes)"
        )
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).lower()
    if count < 1:
        raise InvalidSchedule("the interval must be at least 1")
    seconds = count * UNIT_SECONDS[unit]
    if seconds > LONGEST_PERIOD.total_seconds():  # before timedelta() can overflow
        raise InvalidSchedule("the interval must be at most 366 days")
    return IntervalSchedule(text, timedelta(seconds=seconds), anchor)
