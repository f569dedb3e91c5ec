"""A schedule in words, for people: `every Monday at 09:00, Europe/Paris`.

Common shapes get a sentence; any cron expression too intricate for one is shown as
written, with its zone, rather than in words that might mislead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from taskbeat.schedules.base import OnceSchedule
from taskbeat.schedules.cron import CronExpression, CronSchedule
from taskbeat.schedules.intervals import IntervalSchedule
from taskbeat.schedules.parsing import parse_schedule, parse_timezone

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
ORDINALS = ("", "first", "second", "third", "fourth", "fifth")
MONDAY_TO_FRIDAY = range(1, 6)
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
# Beyond this many times of day a list stops reading as one.
MOST_TIMES = 4
# Intervals do not depend on their anchor for their wording.
_ANY_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


def describe(text: str, timezone: str) -> str:
    """`text` (a schedule as written, for a task in `timezone`) in words."""
    schedule = parse_schedule(text, timezone, _ANY_ANCHOR)
    if isinstance(schedule, OnceSchedule):
        if schedule.text.lower() == "now":
            return "once, straight away"
        local = schedule.at.astimezone(parse_timezone(timezone))
        shown = local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else ""))
        return f"once at {shown} ({timezone})"
    if isinstance(schedule, IntervalSchedule):
        return every(schedule.period)
    assert isinstance(schedule, CronSchedule)
    return describe_cron(schedule.parsed, timezone) or f"{schedule.text.strip()}, {timezone}"


def every(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    unit, size = next((unit, size) for unit, size in UNITS if seconds % size == 0)
    count = seconds // size
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def describe_cron(cron: CronExpression, timezone: str) -> str | None:
    """A sentence for common shapes of cron expression; None for the rest."""
    yearly = _once_a_year(cron)
    days, months = (yearly, "") if yearly else (_days(cron), _months(cron))
    if days is None or months is None:
        return None
    if (times := _times_of_day(cron)) is not None:
        return f"{days or 'every day'} at {times}{months}, {timezone}"
    if not days and not months:
        return _frequency(cron)
    return None


def _times_of_day(cron: CronExpression) -> str | None:
    """`09:00 and 17:30`, when the expression fires at a few times of day."""
    seconds = sorted(cron.selected["second"].values) if cron.with_seconds else [0]
    minutes, hours = sorted(cron.selected["minute"].values), sorted(cron.selected["hour"].values)
    if len(seconds) * len(minutes) * len(hours) > MOST_TIMES:
        return None
    pattern = "{:02}:{:02}:{:02}" if any(seconds) else "{:02}:{:02}"
    return _listed([pattern.format(h, m, s) for h in hours for m in minutes for s in seconds])


def _frequency(cron: CronExpression) -> str | None:
    """`every 15 minutes`, `at minute 5 past every hour`, ... on every day of the year."""
    written = cron.written
    every_minute = written["minute"] == written["hour"] == "*"
    if cron.with_seconds and every_minute and (seconds := _every_step(written["second"], "second")):
        return seconds
    if cron.with_seconds and cron.selected["second"].values != {0}:
        return None
    if written["hour"] == "*" and (step := _every_step(written["minute"], "minute")):
        return step
    minutes = cron.selected["minute"].values
    if len(minutes) != 1:
        return None
    (minute,) = minutes
    hours = _every_step(written["hour"], "hour")
    if hours is None:
        return None
    return f"{hours}, on the hour" if minute == 0 else f"at minute {minute} past {hours}"


def _every_step(written: str, unit: str) -> str | None:
    if written == "*":
        return f"every {unit}"
    step = written.removeprefix("*/")
    if step != written and step.isdigit():
        return f"every {int(step)} {unit}s" if int(step) > 1 else f"every {unit}"
    return None


def _days(cron: CronExpression) -> str | None:
    """`every Monday`, `on the last day of the month`, ...; "" for every day."""
    day_of_month, day_of_week = cron.written["day-of-month"], cron.written["day-of-week"]
    if day_of_month == day_of_week == "*":
        return ""
    if day_of_month == "*" and not day_of_week.startswith("*"):
        return _weekdays(cron)
    if day_of_week == "*" and not day_of_month.startswith("*"):
        return _days_of_month(cron)
    return None


def _once_a_year(cron: CronExpression) -> str | None:
    """`every year on 24 December`, for one day of one month."""
    chosen, months = cron.selected["day-of-month"], cron.selected["month"].values
    if cron.written["day-of-week"] != "*" or chosen.last_day or chosen.last_weekday:
        return None
    if len(chosen.values) != 1 or len(months) != 1:
        return None
    ((day,), (month,)) = (chosen.values, months)
    return f"every year on {day} {MONTHS[month]}"


def _weekdays(cron: CronExpression) -> str | None:
    chosen = cron.selected["day-of-week"]
    days = sorted({day % 7 for day in chosen.values}, key=lambda day: (day - 1) % 7)  # Monday first
    if days and not chosen.nth_weekdays and not chosen.last_weekdays:
        if days == list(MONDAY_TO_FRIDAY):
            return "every weekday"
        return "every " + _listed([WEEKDAYS[day] for day in days])
    if not days and len(chosen.nth_weekdays) == 1 and not chosen.last_weekdays:
        ((day, nth),) = chosen.nth_weekdays
        return f"on the {ORDINALS[nth]} {WEEKDAYS[day]} of the month"
    if not days and not chosen.nth_weekdays and len(chosen.last_weekdays) == 1:
        (day,) = chosen.last_weekdays
        return f"on the last {WEEKDAYS[day]} of the month"
    return None


def _days_of_month(cron: CronExpression) -> str | None:
    chosen = cron.selected["day-of-month"]
    days = sorted(chosen.values)
    if days and not (chosen.last_day or chosen.last_weekday):
        return (
            f"on day{'s' if len(days) > 1 else ''} {_listed([str(d) for d in days])} of the month"
        )
    if not days and chosen.last_day != chosen.last_weekday:
        return (
            "on the last day of the month"
            if chosen.last_day
            else "on the last weekday of the month"
        )
    return None


def _months(cron: CronExpression) -> str | None:
    """` in January and July`; "" for every month."""
    if cron.written["month"] == "*":
        return ""
    return " in " + _listed([MONTHS[month] for month in sorted(cron.selected["month"].values)])


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
