"""A schedule as written to its Schedule object: which form it takes, and the time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from taskbeat.errors import InvalidInput, InvalidSchedule
from taskbeat.schedules.base import OnceSchedule, Schedule
from taskbeat.schedules.cron import CronSchedule
from taskbeat.schedules.intervals import parse_every
from taskbeat.schedules.walltime import wall_clock_to_utc

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# What may surround a schedule: ASCII blanks only (str.strip() would also take a
# no-break space or U+3000, which cron refuses between fields).
ASCII_BLANKS = " \t\r\n"
TIMESTAMP_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a directory
        raise InvalidInput("timezone", f"unknown time zone {name!r} (use an IANA name)") from exc


def parse_schedule(text: str, timezone: str, anchor: datetime) -> Schedule:
    """Parse `text` for a task in `timezone`; `anchor` is where intervals count from."""
    return _parse_cached(text.strip(ASCII_BLANKS), timezone, anchor)


@lru_cache(maxsize=65_536)
def _parse_cached(text: str, timezone: str, anchor: datetime) -> Schedule:
    zone = parse_timezone(timezone)
    if not text:
        raise InvalidSchedule("is empty")
    lowered = text.lower()
    if lowered == "now":
        return OnceSchedule(text, anchor)
    if (interval := parse_every(text, anchor)) is not None:
        return interval
    if lowered.startswith("@"):
        if lowered not in NICKNAMES:
            raise InvalidSchedule(f"unknown name {text!r} (known: {', '.join(NICKNAMES)})")
        return CronSchedule.build(text, NICKNAMES[lowered], zone)
    if TIMESTAMP_START.match(text):
        return OnceSchedule(text, parse_timestamp(text, zone))
    return CronSchedule.build(text, text, zone)


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
