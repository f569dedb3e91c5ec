"""What the schedule tests share: parsing with a fixed anchor, local times as UTC, and
walking fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from taskbeat.errors import InvalidInput, InvalidSchedule
from taskbeat.schedules import CronRefused, Refusal, Schedule, parse_schedule

ANCHOR = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
PARIS = "Europe/Paris"
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def parse(text: str, timezone: str = "UTC", anchor: datetime = ANCHOR) -> Schedule:
    return parse_schedule(text, timezone, anchor)


def local(zone: str, *fields: int, fold: int = 0) -> datetime:
    """A wall-clock time in `zone`, as the UTC instant the schedules return.

    Expectations are kept in UTC: an aware time inside a DST fold never compares equal
    to one in another zone (PEP 495), so a local expectation would not match a UTC fire.
    """
    return datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def wall_clock(when: datetime, zone: str) -> datetime:
    return when.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def fires_between(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in (start, end)."""
    times: list[datetime] = []
    when = schedule.next_fire_time(start)
    while when is not None and when < end:
        times.append(when)
        when = schedule.next_fire_time(when)
    return times


def spacings(times: list[datetime]) -> list[timedelta]:
    return [later - earlier for earlier, later in pairwise(times)]


def parse_error(text: str, timezone: str = "UTC") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(text, timezone)
    return caught.value


def schedule_error(text: str) -> str:
    """The message of the InvalidSchedule `text` raises, blamed on the schedule field."""
    error = parse_error(text)
    assert isinstance(error, InvalidSchedule)
    assert error.field == "schedule"
    return error.message


def refusal(text: str) -> tuple[Refusal, str]:
    """Why the cron expression `text` is refused, and the message saying so."""
    error = parse_error(text)
    assert isinstance(error, CronRefused), error
    assert error.field == "schedule"
    return error.reason, error.message
