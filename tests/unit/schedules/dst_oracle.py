"""An oracle for the DST rule, written apart from the scheduler's code.

It never asks zoneinfo to read an ambiguous or skipped wall time (no fold=0 reading).
It walks real instants minute by minute and notes the wall-clock minute each one shows:
- a wall minute shown by some instant fires at the first instant that shows it;
- a wall minute no instant shows lies in a gap of g minutes (the run of missing minutes
  around it) and fires at the first instant showing the wall minute g later.
Fire instants are the sorted set of those, so a shifted time and a real time that land
on the same instant fire once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# Selects a wall-clock minute (a naive datetime) or not.
Selector = Callable[[datetime], bool]


@dataclass(frozen=True)
class WallClock:
    """The wall-clock minutes a zone shows over a stretch of instants."""

    first_shown: dict[datetime, datetime]  # wall minute -> first instant that shows it
    skipped: dict[datetime, datetime]  # wall minute in a gap -> the instant it fires at

    def fire_times(self, selects: Selector) -> list[datetime]:
        fires = {at for wall, at in self.first_shown.items() if selects(wall)}
        fires.update(at for wall, at in self.skipped.items() if selects(wall))
        return sorted(fires)


@cache
def wall_clock(zone_name: str, start: datetime, end: datetime) -> WallClock:
    """Every wall minute shown by instants in [start, end), whole UTC minutes.

    Offsets in the zones tested are whole minutes, so whole UTC minutes show every wall
    minute that exists.
    """
    zone = ZoneInfo(zone_name)
    first_shown: dict[datetime, datetime] = {}
    for instant in _minutes(start, end):
        first_shown.setdefault(instant.astimezone(zone).replace(tzinfo=None), instant)
    walls = sorted(first_shown)
    skipped: dict[datetime, datetime] = {}
    for earlier, later in pairwise(walls):
        gap = later - earlier - MINUTE
        missing = earlier + MINUTE
        while missing < later:
            skipped[missing] = first_shown[missing + gap]
            missing += MINUTE
    return WallClock(first_shown, skipped)


def offset_changes(zone_name: str, first_year: int, last_year: int) -> list[datetime]:
    """The instants at which a zone's UTC offset changes, to the minute."""
    zone = ZoneInfo(zone_name)
    changes: list[datetime] = []
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    previous = start.astimezone(zone).utcoffset()
    hour = start
    while hour < end:
        offset = (hour + HOUR).astimezone(zone).utcoffset()
        if offset != previous:
            changes.append(_first_minute_with(zone, hour, offset))
            previous = offset
        hour += HOUR
    return changes


def _first_minute_with(zone: ZoneInfo, hour: datetime, offset: timedelta | None) -> datetime:
    minutes = _minutes(hour, hour + 2 * HOUR)
    return next(m for m in minutes if m.astimezone(zone).utcoffset() == offset)


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    instant = start
    while instant < end:
        yield instant
        instant += MINUTE
