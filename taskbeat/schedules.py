"""Parse a schedule as written and compute its fire times, in the task's time zone.

Forms: 5-field cron (day-of-week 0-7), 6-field cron with seconds first, the @-names,
`every N seconds|minutes|hours|days`, `now`, and ISO-8601 timestamps.

Cron fire times are wall-clock times in the task's zone, and each one fires once:
- a time skipped by a DST jump forward runs at the same distance past the jump
  (02:30 on a night that jumps 02:00 -> 03:00 runs at 03:30), once;
- a time repeated by a DST jump back runs at its first occurrence only.
`every ...` schedules count elapsed time from an anchor (the task's start_at, else its
creation), so they are unaffected by DST.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from taskbeat.errors import InvalidInput, InvalidSchedule

CRON_FIELDS_5 = ("minute", "hour", "day-of-month", "month", "day-of-week")
CRON_FIELDS_6 = ("second", *CRON_FIELDS_5)
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Where "does this cron ever fire?" is asked from: any fixed time will do, and a fixed one
# keeps parsing free of the clock.
NEVER_FIRES_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
EVERY = re.compile(r"^every\s+(\d+)\s+(second|minute|hour|day)s?$", re.IGNORECASE)
RANDOMIZED = re.compile(r"(?<![a-z])[rh](?![a-z])", re.IGNORECASE)
# A wall-clock time can be shadowed by a DST fold; this bounds the walk past it.
_MAX_CRON_STEPS = 100_000


class Schedule(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def recurring(self) -> bool: ...

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (aware UTC), or None if none is left."""
        ...


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a directory
        raise InvalidInput("timezone", f"unknown time zone {name!r} (use an IANA name)") from exc


def parse_schedule(text: str, timezone: str, anchor: datetime) -> Schedule:
    """Parse `text` for a task in `timezone`; `anchor` is where intervals count from."""
    return _parse_cached(text.strip(), timezone, anchor)


@lru_cache(maxsize=65_536)
def _parse_cached(text: str, timezone: str, anchor: datetime) -> Schedule:
    zone = parse_timezone(timezone)
    if not text:
        raise InvalidSchedule("is empty")
    lowered = text.lower()
    if lowered == "now":
        return OnceSchedule(text, anchor)
    if match := EVERY.match(text):
        return _interval(text, int(match.group(1)), match.group(2).lower(), anchor)
    if lowered.startswith("@"):
        if lowered not in NICKNAMES:
            raise InvalidSchedule(f"unknown name {text!r} (known: {', '.join(NICKNAMES)})")
        return CronSchedule.build(text, NICKNAMES[lowered], zone)
    if _looks_like_timestamp(text):
        return OnceSchedule(text, parse_timestamp(text, zone))
    return CronSchedule.build(text, text, zone)


def first_fire_time(
    schedule: Schedule, now: datetime, start_at: datetime | None
) -> datetime | None:
    """Where a new (or re-armed) task's next_run_at starts.

    A one-time schedule fires at its time even if that has passed (it is then due at
    once); a recurring one fires at its first time from `start_at` (inclusive) or now on.
    """
    if isinstance(schedule, OnceSchedule):
        return schedule.at
    if start_at is not None and start_at > now:
        return schedule.next_fire_time(start_at - timedelta(microseconds=1))
    return schedule.next_fire_time(now)


def preview(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    current: datetime | None = after
    while len(times) < count and current is not None:
        current = schedule.next_fire_time(current)
        if current is not None:
            times.append(current)
    return times


@dataclass(frozen=True)
class OnceSchedule:
    text: str
    at: datetime
    recurring: bool = False

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self.at if self.at > after else None


@dataclass(frozen=True)
class IntervalSchedule:
    text: str
    period: timedelta
    anchor: datetime
    recurring: bool = True

    def next_fire_time(self, after: datetime) -> datetime | None:
        if after < self.anchor:
            return self.anchor
        periods = math.floor((after - self.anchor) / self.period) + 1
        try:
            return self.anchor + periods * self.period
        except OverflowError:
            return None  # past the year 9999


def _interval(text: str, count: int, unit: str, anchor: datetime) -> IntervalSchedule:
    if count < 1:
        raise InvalidSchedule("the interval must be at least 1")
    seconds = count * UNIT_SECONDS[unit]
    if seconds > 366 * 86400:
        raise InvalidSchedule("the interval must be at most 366 days")
    return IntervalSchedule(text, timedelta(seconds=seconds), anchor)


@dataclass(frozen=True)
class CronSchedule:
    text: str
    expression: str
    zone: ZoneInfo
    with_seconds: bool
    recurring: bool = True
    # croniter objects are slow to build and cheap to re-aim; one per schedule, guarded.
    _iterator: croniter = field(compare=False, repr=False, default=None)
    _lock: threading.Lock = field(compare=False, repr=False, default_factory=threading.Lock)

    @classmethod
    def build(cls, text: str, expression: str, zone: ZoneInfo) -> CronSchedule:
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise InvalidSchedule(
                f"a cron expression has 5 fields ({' '.join(CRON_FIELDS_5)}) or 6 with "
                f"seconds first; {text!r} has {len(fields)}"
            )
        with_seconds = len(fields) == 6
        _check_cron_fields(fields, with_seconds)
        iterator = croniter(
            expression,
            datetime(2000, 1, 1),
            ret_type=datetime,
            second_at_beginning=with_seconds,
        )
        schedule = cls(text, expression, zone, with_seconds, _iterator=iterator)
        if schedule.next_fire_time(NEVER_FIRES_PROBE) is None:
            raise InvalidSchedule(f"{text!r} never fires")
        return schedule

    def next_fire_time(self, after: datetime) -> datetime | None:
        with self._lock:
            for fire in self._fire_times(after):
                # A wall-clock time can map to or before `after` inside a DST fold; walk on.
                if fire > after:
                    return fire
        return None

    def _fire_times(self, after: datetime) -> Iterator[datetime]:
        """Fire times from `after` on, in UTC, until croniter finds none or the calendar
        ends (the year 9999)."""
        try:
            local = after.astimezone(self.zone).replace(tzinfo=None)
            self._iterator.set_current(local, force=True)
            for _ in range(_MAX_CRON_STEPS):
                yield wall_clock_to_utc(self._iterator.get_next(datetime), self.zone)
        except (CroniterBadDateError, OverflowError, ValueError):
            return


def wall_clock_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in `zone` as UTC: first occurrence in a fold, shifted
    forward by the gap inside a DST gap (PEP 495's fold=0)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def client_time(value: datetime, zone: ZoneInfo, field: str) -> datetime:
    """A time a client sent, as UTC; without an offset it is wall-clock time in `zone`."""
    try:
        if value.tzinfo is None:
            return wall_clock_to_utc(value, zone)
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(field, "is out of the calendar's range") from exc


def _check_cron_fields(fields: list[str], with_seconds: bool) -> None:
    """Name the first bad field, by asking croniter about each field on its own."""
    names = CRON_FIELDS_6 if with_seconds else CRON_FIELDS_5
    for index, name in enumerate(names):
        if RANDOMIZED.search(fields[index]):
            # croniter picks R (and H without a seed) afresh in each process, so the
            # API's preview and each scheduler would disagree on the time.
            raise InvalidSchedule(
                f"cron field {name} {fields[index]!r}: random (R) and hashed (H) values "
                "are not supported; write the time you want"
            )
        probe = ["*"] * len(fields)
        probe[index] = fields[index]
        if not croniter.is_valid(" ".join(probe), second_at_beginning=with_seconds):
            raise InvalidSchedule(f"cron field {name} {fields[index]!r} is not valid")
    try:
        croniter(" ".join(fields), second_at_beginning=with_seconds)
    except (CroniterBadCronError, ValueError) as exc:
        raise InvalidSchedule(f"{' '.join(fields)!r} is not valid: {exc}") from exc


def _looks_like_timestamp(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}", text))


def parse_timestamp(text: str, zone: ZoneInfo) -> datetime:
    """An ISO-8601 timestamp; without an offset it is wall-clock time in `zone`."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidSchedule(f"{text!r} is not an ISO-8601 timestamp") from exc
    try:
        if parsed.tzinfo is None:
            return wall_clock_to_utc(parsed, zone)
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidSchedule(f"{text!r} is out of the calendar's range") from exc
