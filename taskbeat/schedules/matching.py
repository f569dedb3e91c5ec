"""Which wall-clock times a cron expression selects, and the first one after a given time.

Times here are naive wall-clock times with no zone; `walltime` turns them into instants.
Days are matched as Debian cron matches them: when day-of-month or day-of-week is written
starting with `*`, a day must match both; otherwise it may match either.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import MAXYEAR, datetime, timedelta
from functools import lru_cache

from taskbeat.schedules.fields import Selection

SECOND = timedelta(seconds=1)
WEEKDAYS = range(7)  # cron numbering: 0 is Sunday
MONDAY_TO_FRIDAY = range(1, 6)
MONTH_LENGTHS = {2: (28, 29), 4: (30,), 6: (30,), 9: (30,), 11: (30,)}
# Where a search restarts below a level: month 1, day 1, 00:00:00.
_FIRST = (1, 1, 0, 0, 0)


@dataclass(frozen=True)
class DayRule:
    """Which days of a month match the day-of-month and day-of-week fields."""

    day_of_month: Selection
    day_of_week: Selection
    both_must_match: bool

    def days(self, length: int, first_weekday: int) -> tuple[int, ...]:
        """The matching days of a month of `length` days whose 1st is on `first_weekday`."""
        by_date = self._by_date(length, first_weekday)
        by_weekday = self._by_weekday(length, first_weekday)
        chosen = by_date & by_weekday if self.both_must_match else by_date | by_weekday
        return tuple(sorted(chosen))

    def _by_date(self, length: int, first_weekday: int) -> set[int]:
        dom = self.day_of_month
        days = {day for day in dom.values if day <= length}
        if dom.last_day:
            days.add(length)
        if dom.last_weekday:  # of the last three days, the latest from Monday to Friday
            last_three = range(length, length - 3, -1)
            days.add(next(d for d in last_three if _weekday(d, first_weekday) in MONDAY_TO_FRIDAY))
        return days

    def _by_weekday(self, length: int, first_weekday: int) -> set[int]:
        dow = self.day_of_week
        # first_of[w]: the date of the month's first weekday w (cron numbering).
        first_of = [1 + (weekday - first_weekday) % 7 for weekday in WEEKDAYS]
        days = {d for weekday in dow.values for d in range(first_of[weekday % 7], length + 1, 7)}
        days.update(first_of[weekday] + 7 * (k - 1) for weekday, k in dow.nth_weekdays)
        days.update(
            first_of[weekday] + (length - first_of[weekday]) // 7 * 7
            for weekday in dow.last_weekdays
        )
        return {day for day in days if day <= length}


def _weekday(day: int, first_weekday: int) -> int:
    return (first_weekday + day - 1) % 7


@lru_cache(maxsize=4096)
def month_shape(year: int, month: int) -> tuple[int, int]:
    """(number of days, cron weekday of the 1st) of a month."""
    monday_first, length = calendar.monthrange(year, month)
    return length, (monday_first + 1) % 7


@dataclass(frozen=True)
class CronCalendar:
    """The wall-clock times a cron expression selects: sorted values per field."""

    months: tuple[int, ...]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]
    day_rule: DayRule
    # The matching days of a month depend only on its length and first weekday, so there
    # are 28 shapes of month; each is worked out when first needed (parsing needs one).
    _days_by_shape: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        seconds: Selection,
        minutes: Selection,
        hours: Selection,
        months: Selection,
        days: DayRule,
    ) -> CronCalendar:
        return cls(_sorted(months), _sorted(hours), _sorted(minutes), _sorted(seconds), days)

    def days(self, shape: tuple[int, int]) -> tuple[int, ...]:
        """The matching days of a month of this (length, first weekday)."""
        days = self._days_by_shape.get(shape)
        if days is None:  # racing threads compute the same tuple; either may be kept
            days = self._days_by_shape[shape] = self.day_rule.days(*shape)
        return days

    def ever_matches(self) -> bool:
        """Whether any date matches. Over the Gregorian 400-year cycle every month, leap
        February included, starts on every weekday, so checking each shape suffices."""
        return any(
            self.days((length, first))
            for month in self.months
            for length in MONTH_LENGTHS.get(month, (31,))
            for first in WEEKDAYS
        )

    def next_after(self, wall: datetime) -> datetime | None:
        """The first selected wall-clock time strictly after `wall`, or None past year 9999."""
        try:
            start = wall.replace(microsecond=0) + SECOND
        except OverflowError:
            return None
        year = start.year
        position = [start.month, start.day, start.hour, start.minute, start.second]
        level = 0  # 0 month, 1 day, 2 hour, 3 minute, 4 second
        while year <= MAXYEAR:
            allowed = self._allowed(level, year, position[0])
            index = bisect_left(allowed, position[level])
            if index == len(allowed):  # none left at this level: carry into the one above
                if level == 0:
                    year += 1
                    position[:] = _FIRST
                    continue
                level -= 1
                position[level] += 1
                position[level + 1 :] = _FIRST[level + 1 :]
                continue
            if allowed[index] != position[level]:
                position[level] = allowed[index]
                position[level + 1 :] = _FIRST[level + 1 :]
            level += 1
            if level == len(position):
                month, day, hour, minute, second = position
                return datetime(year, month, day, hour, minute, second)
        return None

    def _allowed(self, level: int, year: int, month: int) -> tuple[int, ...]:
        if level == 1:
            return self.days(month_shape(year, month))
        return (self.months, (), self.hours, self.minutes, self.seconds)[level]


def _sorted(selection: Selection) -> tuple[int, ...]:
    return tuple(sorted(selection.values))
