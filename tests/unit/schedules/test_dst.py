"""Cron across DST: the gap and fold rule on known transition nights."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskbeat.schedules import first_fire_time, preview
from tests.unit.schedules.helpers import (
    BERLIN,
    HOUR,
    NEW_YORK,
    PARIS,
    SECOND,
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


# --- Several wall times in one gap, and where a computation starts -----------------


def test_every_time_in_a_one_hour_gap_runs_shifted_by_the_gap():
    # Paris, 2025-03-30: 02:00 CET jumps to 03:00 CEST.
    start, end = local(PARIS, 2025, 3, 30, 1, 50), local(PARIS, 2025, 3, 31, 2, 10)
    assert fires_between(parse("*/15 2 * * *", PARIS), start, end) == [
        local(PARIS, 2025, 3, 30, 3, 0),
        local(PARIS, 2025, 3, 30, 3, 15),
        local(PARIS, 2025, 3, 30, 3, 30),
        local(PARIS, 2025, 3, 30, 3, 45),
        local(PARIS, 2025, 3, 31, 2, 0),
    ]


def test_a_gap_at_an_odd_offset_keeps_real_and_shifted_times():
    # Chatham, 2025-09-28: 02:45 +1245 jumps to 03:45 +1345, so 03:45 is real and
    # 03:00, 03:15, 03:30 are shifted by the hour.
    zone = "Pacific/Chatham"
    start = local(zone, 2025, 9, 28, 0, 0)
    assert fires_between(parse("*/15 3 * * *", zone), start, start + 6 * HOUR) == [
        local(zone, 2025, 9, 28, 3, 45),
        local(zone, 2025, 9, 28, 4, 0),
        local(zone, 2025, 9, 28, 4, 15),
        local(zone, 2025, 9, 28, 4, 30),
    ]


@pytest.mark.parametrize("minutes_past_three", [0, 10, 29])
def test_a_task_armed_inside_the_shifted_hour_still_runs_the_shifted_time(minutes_past_three):
    # Created or resumed at 03:10 on the spring-forward night: 02:30 shifted is 03:30.
    now = local(PARIS, 2025, 3, 30, 3, minutes_past_three)
    schedule = parse("30 2 * * *", PARIS)
    assert first_fire_time(schedule, now, None) == local(PARIS, 2025, 3, 30, 3, 30)


def test_a_start_at_written_inside_the_gap_counts_from_its_shifted_instant():
    start_at = local(PARIS, 2025, 3, 30, 2, 10)  # wall time 02:10 does not exist: 03:10
    schedule = parse("30 2 * * *", PARIS)
    assert first_fire_time(schedule, start_at - HOUR, start_at) == local(PARIS, 2025, 3, 30, 3, 30)


def test_a_shifted_time_that_lands_on_a_real_fire_time_fires_once():
    # 02:00 and 02:30 shift onto 03:00 and 03:30, which the expression also selects.
    start = local(PARIS, 2025, 3, 30, 1, 0)
    assert fires_between(parse("0,30 2,3 * * *", PARIS), start, start + 4 * HOUR) == [
        local(PARIS, 2025, 3, 30, 1, 0) + HOUR,  # 03:00 CEST, once
        local(PARIS, 2025, 3, 30, 3, 30),  # once
    ]


def test_shifted_times_are_emitted_in_order_among_real_ones():
    # Lord Howe, 2025-10-05: 02:00 +1030 jumps to 02:30 +11. 02:15 shifts to 02:45,
    # after the real 02:35.
    zone = "Australia/Lord_Howe"
    start = local(zone, 2025, 10, 5, 0, 0)
    assert fires_between(parse("15,35 2 * * *", zone), start, start + 4 * HOUR) == [
        local(zone, 2025, 10, 5, 2, 35),
        local(zone, 2025, 10, 5, 2, 45),
    ]


def test_from_inside_the_second_pass_of_a_repeated_hour_its_times_do_not_run_again():
    # Paris, 2025-10-26: 03:00 CEST falls back to 02:00 CET; start at 02:10 CET.
    start = local(PARIS, 2025, 10, 26, 2, 10, fold=1)
    assert parse("*/15 2 * * *", PARIS).next_fire_time(start) == local(PARIS, 2025, 10, 27, 2, 0)
    assert parse("*/15 * * * *", PARIS).next_fire_time(start) == local(PARIS, 2025, 10, 26, 3, 0)


def test_seconds_in_a_gap_shift_like_minutes():
    start = local(PARIS, 2025, 3, 30, 1, 0)
    schedule = parse("*/20 30 2 * * *", PARIS)
    assert fires_between(schedule, start, start + 3 * HOUR) == [
        local(PARIS, 2025, 3, 30, 3, 30, 0),
        local(PARIS, 2025, 3, 30, 3, 30, 20),
        local(PARIS, 2025, 3, 30, 3, 30, 40),
    ]


def test_every_second_of_a_skipped_hour_runs_once_and_in_order():
    start = local(PARIS, 2025, 3, 30, 1, 0)
    times = fires_between(parse("* * 2 * * *", PARIS), start, start + 3 * HOUR)
    assert times[0] == local(PARIS, 2025, 3, 30, 3, 0)
    assert spacings(times) == [SECOND] * 3599
