"""Cron schedules: 5 fields, or 6 with seconds first, read as Debian (Vixie) cron reads
them and fired at wall-clock times in the task's zone (see `walltime` for DST)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from taskbeat.schedules.fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    FieldKind,
    Selection,
    parse_field,
)
from taskbeat.schedules.matching import CronCalendar, DayRule
from taskbeat.schedules.refusals import CronRefused, Refusal, field_refused
from taskbeat.schedules.walltime import next_instant

FIVE_FIELDS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
SIX_FIELDS = (SECOND, *FIVE_FIELDS)
# R and H (random, hashed) as cron values, not the R or H inside a name.
RANDOMIZED = re.compile(r"(?<![a-z])[rh](?![a-z])", re.IGNORECASE)
# Cron separates fields with spaces and tabs only; Python's split() would also take a
# no-break space or a file separator for one.
SEPARATOR = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class CronExpression:
    """A parsed expression: each field as written and what it selects."""

    written: dict[str, str]
    selected: dict[str, Selection]

    @property
    def with_seconds(self) -> bool:
        return SECOND.name in self.written

    @property
    def days_must_match_both(self) -> bool:
        """Debian cron: a day must match both day fields when either is written starting
        with `*` (as in `*/2`), and may match either otherwise."""
        return any(self.written[kind.name].startswith("*") for kind in (DAY_OF_MONTH, DAY_OF_WEEK))

    def calendar(self) -> CronCalendar:
        days = DayRule(
            self.selected[DAY_OF_MONTH.name],
            self.selected[DAY_OF_WEEK.name],
            self.days_must_match_both,
        )
        seconds = self.selected.get(SECOND.name, Selection(frozenset({0})))
        return CronCalendar.build(
            seconds,
            self.selected[MINUTE.name],
            self.selected[HOUR.name],
            self.selected[MONTH.name],
            days,
        )


def parse_cron(expression: str, text: str) -> CronExpression:
    """Read `expression` (what `text` stands for), or CronRefused naming the bad field."""
    parts = SEPARATOR.split(expression.strip(" \t"))
    if len(parts) not in (5, 6):
        raise CronRefused(
            Refusal.FIELD_COUNT,
            f"a cron expression has 5 fields ({' '.join(kind.name for kind in FIVE_FIELDS)}) "
            f"or 6 with seconds first, separated by spaces or tabs; {text!r} has {len(parts)}",
        )
    kinds = SIX_FIELDS if len(parts) == 6 else FIVE_FIELDS
    written = {kind.name: part for kind, part in zip(kinds, parts, strict=True)}
    return CronExpression(written, {kind.name: _parse(kind, written[kind.name]) for kind in kinds})


def _parse(kind: FieldKind, text: str) -> Selection:
    if RANDOMIZED.search(text):
        # croniter-style R (and H without a seed) is picked afresh in each process, so the
        # API's preview and each scheduler would disagree on the time.
        raise field_refused(
            kind.name,
            text,
            Refusal.RANDOMIZED,
            "random (R) and hashed (H) values are not supported; write the time you want",
        )
    return parse_field(kind, text)


@dataclass(frozen=True)
class CronSchedule:
    text: str
    expression: str
    zone: ZoneInfo
    parsed: CronExpression = field(compare=False, repr=False)
    calendar: CronCalendar = field(compare=False, repr=False)

    @classmethod
    def build(cls, text: str, expression: str, zone: ZoneInfo) -> CronSchedule:
        parsed = parse_cron(expression, text)
        calendar = parsed.calendar()
        if not calendar.ever_matches():
            raise CronRefused(Refusal.NEVER_FIRES, f"{text!r} never fires: {_no_day(parsed)}")
        return cls(text, expression, zone, parsed, calendar)

    @property
    def recurring(self) -> bool:
        return True

    @property
    def with_seconds(self) -> bool:
        return self.parsed.with_seconds

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (aware), or None past year 9999."""
        try:
            return next_instant(self.calendar.next_after, self.zone, after)
        except OverflowError:
            return None


def _no_day(parsed: CronExpression) -> str:
    written = parsed.written
    joined = "and" if parsed.days_must_match_both else "or"
    return (
        f"no date in month {written[MONTH.name]!r} has day-of-month "
        f"{written[DAY_OF_MONTH.name]!r} {joined} day-of-week {written[DAY_OF_WEEK.name]!r}"
    )
