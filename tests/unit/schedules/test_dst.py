"""Cron across DST: the gap and fold rule on known transition nights."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskbeat.schedules import preview
from tests.unit.schedules.helpers import (
    BERLIN,
    HOUR,
    NEW_YORK,
    fires_between,
    local,
    parse,
    spacings,
    wall_clock,
)

# (zone, the spring-forward day, a wall-clock time it skips,
#        the fall-back day, a wall-clock time it repeats)
DST_ZONES = [
    (NEW_YORK, date(2026, 3, 8), (2, 30), date(2026, 11, 1), (1, 30)),
    (BERLIN, date(2026, 3, 29), (2, 30), date(2026, 10, 25), (2, 30)),
]


def daily_fires_around(zone: str, day: date, hour: int, minute: int) -> list[datetime]:
    """The fires of a daily hour:minute job from the day before `day` to the day after."""
    schedule = parse(f"{minute} {hour} * * *", zone)
    start = local(zone, day.year, day.month, day.day) - timedelta(days=1)
    return fires_between(schedule, start, start + timedelta(days=3))


@pytest.mark.parametrize(("zone", "spring", "gap", "fall", "fold"), DST_ZONES)
def test_a_daily_job_in_the_spring_forward_gap_runs_once_an_hour_past_the_jump(
    zone, spring, gap, fall, fold
):
    hour, minute = gap
    before, after = spring - timedelta(days=1), spring + timedelta(days=1)
    assert daily_fires_around(zone, spring, hour, minute) == [
        local(zone, before.year, before.month, before.day, hour, minute),
        local(zone, spring.year, spring.month, spring.day, hour + 1, minute),
        local(zone, after.year, after.month, after.day, hour, minute),
    ]


@pytest.mark.parametrize(("zone", "spring", "gap", "fall", "fold"), DST_ZONES)
def test_a_daily_job_in_the_fall_back_fold_runs_once_at_the_first_occurrence(
    zone, spring, gap, fall, fold
):
    hour, minute = fold
    before, after = fall - timedelta(days=1), fall + timedelta(days=1)
    assert daily_fires_around(zone, fall, hour, minute) == [
        local(zone, before.year, before.month, before.day, hour, minute),
        local(zone, fall.year, fall.month, fall.day, hour, minute, fold=0),
        local(zone, after.year, after.month, after.day, hour, minute),
    ]


@pytest.mark.parametrize(("zone", "spring", "gap", "fall", "fold"), DST_ZONES)
def test_a_quarter_hourly_job_across_the_fall_back_hour_fires_each_wall_clock_time_once(
    zone, spring, gap, fall, fold
):
    start = local(zone, fall.year, fall.month, fall.day, 0, 0)
    times = fires_between(parse("*/15 * * * *", zone), start, start + 5 * HOUR)
    assert len(set(times)) == len(times)
    assert all(gap > timedelta(0) for gap in spacings(times))
    walls = [wall_clock(when, zone) for when in times]
    assert len(set(walls)) == len(walls)
    # Every quarter hour of the local night is there, the repeated hour in its first pass.
    assert walls == [
        datetime(fall.year, fall.month, fall.day) + timedelta(minutes=15 * n) for n in range(1, 16)
    ]


@pytest.mark.parametrize(("zone", "spring", "gap", "fall", "fold"), DST_ZONES)
def test_a_quarter_hourly_job_across_the_spring_forward_gap_never_repeats_an_instant(
    zone, spring, gap, fall, fold
):
    start = local(zone, spring.year, spring.month, spring.day, 0, 0)
    times = fires_between(parse("*/15 * * * *", zone), start, start + 5 * HOUR)
    assert all(gap > timedelta(0) for gap in spacings(times))
    assert all(gap <= timedelta(minutes=15) for gap in spacings(times))


@pytest.mark.parametrize("zone", [NEW_YORK, BERLIN])
@pytest.mark.parametrize("day", [date(2026, 3, 7), date(2026, 10, 24), date(2026, 10, 31)])
def test_every_1_hours_keeps_exact_spacing_across_dst(zone, day):
    anchor = local(zone, day.year, day.month, day.day, 0, 0)
    times = preview(parse("every 1 hours", zone, anchor), anchor, 72)
    assert times[0] == anchor + HOUR
    assert spacings(times) == [HOUR] * 71


def test_every_1_hours_runs_twice_at_the_repeated_wall_clock_hour():
    anchor = local(NEW_YORK, 2026, 11, 1, 0, 0)
    walls = [
        wall_clock(when, NEW_YORK)
        for when in preview(parse("every 1 hours", NEW_YORK, anchor), anchor, 3)
    ]
    assert [wall.hour for wall in walls] == [1, 1, 2]


YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)
YEAR_ZONES = [NEW_YORK, BERLIN, "Australia/Lord_Howe", "Asia/Kolkata"]


@pytest.mark.parametrize("zone", YEAR_ZONES)
@pytest.mark.parametrize("text", ["30 2 * * *", "0 * * * *", "*/20 1-3 * * *", "0 30 1 * * *"])
def test_over_a_year_fire_times_increase_and_each_wall_clock_time_fires_at_most_once(zone, text):
    times = fires_between(parse(text, zone), YEAR_START, YEAR_END)
    assert times
    assert all(gap > timedelta(0) for gap in spacings(times))
    repeated = [wall for wall, n in Counter(wall_clock(t, zone) for t in times).items() if n > 1]
    assert repeated == []


@pytest.mark.parametrize("zone", YEAR_ZONES)
@pytest.mark.parametrize("text", ["30 2 * * *", "0 2 * * *", "15 1 * * *"])
def test_over_a_year_a_daily_job_fires_exactly_once_on_each_local_day(zone, text):
    schedule = parse(text, zone)
    start = local(zone, 2026, 1, 1)
    times = fires_between(schedule, start, local(zone, 2027, 1, 1))
    days = [when.astimezone(ZoneInfo(zone)).date() for when in times]
    assert days == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
