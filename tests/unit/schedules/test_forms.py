"""The forms a schedule may take, and what each fires at."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from taskbeat.schedules import first_fire_time, preview
from tests.unit.schedules.helpers import (
    ANCHOR,
    BERLIN,
    HOUR,
    NEW_YORK,
    SECOND,
    local,
    parse,
    spacings,
)


def test_a_five_field_cron_fires_at_its_minute_and_hour():
    assert preview(parse("15 9 * * *"), ANCHOR, 2) == [
        datetime(2026, 1, 5, 9, 15, tzinfo=UTC),
        datetime(2026, 1, 6, 9, 15, tzinfo=UTC),
    ]


def test_a_six_field_cron_reads_seconds_first():
    assert preview(parse("30 15 9 * * *"), ANCHOR, 1) == [
        datetime(2026, 1, 5, 9, 15, 30, tzinfo=UTC)
    ]


def test_a_six_field_cron_can_fire_every_few_seconds():
    times = preview(parse("*/10 * * * * *"), ANCHOR, 4)
    assert times[0] == ANCHOR + 10 * SECOND
    assert spacings(times) == [10 * SECOND] * 3


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_day_of_week_0_and_7_both_mean_sunday(sunday):
    times = preview(parse(f"0 12 * * {sunday}"), ANCHOR, 4)
    assert [when.date().isoweekday() for when in times] == [7] * 4
    assert times[0].date() == date(2026, 1, 11)


@pytest.mark.parametrize("weekdays", ["mon-fri", "MON-FRI", "1-5"])
def test_day_names_select_those_days(weekdays):
    times = preview(parse(f"0 12 * * {weekdays}"), ANCHOR, 10)
    assert {when.date().isoweekday() for when in times} == {1, 2, 3, 4, 5}
    assert times[-1].date() == date(2026, 1, 16)  # two working weeks, weekend skipped


@pytest.mark.parametrize("month", ["jan", "JAN", "1"])
def test_month_names_select_that_month(month):
    assert preview(parse(f"0 0 1 {month} *"), ANCHOR, 2) == [
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2028, 1, 1, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("name", "cron"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@Daily", "0 0 * * *"),
    ],
)
def test_an_at_name_fires_like_its_cron_expression(name, cron):
    assert preview(parse(name), ANCHOR, 5) == preview(parse(cron), ANCHOR, 5)


def test_at_names_fire_at_the_expected_times():
    assert parse("@weekly").next_fire_time(ANCHOR) == datetime(2026, 1, 11, tzinfo=UTC)
    assert parse("@monthly").next_fire_time(ANCHOR) == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse("@hourly").next_fire_time(ANCHOR) == ANCHOR + HOUR


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("every 1 second", SECOND),
        ("every 30 seconds", 30 * SECOND),
        ("every 1 minute", timedelta(minutes=1)),
        ("every 5 minutes", timedelta(minutes=5)),
        ("every 1 hour", HOUR),
        ("every 2 hours", 2 * HOUR),
        ("every 1 day", timedelta(days=1)),
        ("every 3 days", timedelta(days=3)),
        ("EVERY 10 Minutes", timedelta(minutes=10)),
        ("Every 1 HOUR", HOUR),
        ("every  2   hours", 2 * HOUR),
        ("every 366 days", timedelta(days=366)),
    ],
)
def test_every_n_units_fires_each_period_from_the_anchor(text, period):
    schedule = parse(text)
    assert schedule.recurring
    assert preview(schedule, ANCHOR, 3) == [
        ANCHOR + period,
        ANCHOR + 2 * period,
        ANCHOR + 3 * period,
    ]


@pytest.mark.parametrize("text", ["now", "NOW", " now "])
def test_now_fires_once_at_the_anchor(text):
    schedule = parse(text)
    assert not schedule.recurring
    assert schedule.next_fire_time(ANCHOR - SECOND) == ANCHOR
    assert schedule.next_fire_time(ANCHOR) is None
    assert first_fire_time(schedule, ANCHOR + HOUR, None) == ANCHOR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T12:00:00+02:00", datetime(2026, 6, 1, 10, 0, tzinfo=UTC)),
        ("2026-06-01T12:00:00-05:00", datetime(2026, 6, 1, 17, 0, tzinfo=UTC)),
        ("2026-06-01T12:00:00Z", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_timestamp_with_an_offset_fires_at_that_instant_whatever_the_zone(text, expected):
    for zone in ("UTC", NEW_YORK, BERLIN):
        schedule = parse(text, zone)
        assert not schedule.recurring
        assert preview(schedule, ANCHOR, 3) == [expected]


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-06-01T12:00:00", "UTC", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
        ("2026-06-01T12:00:00", BERLIN, datetime(2026, 6, 1, 10, 0, tzinfo=UTC)),
        ("2026-01-15T12:00", NEW_YORK, datetime(2026, 1, 15, 17, 0, tzinfo=UTC)),
        ("2026-07-15 12:00", NEW_YORK, datetime(2026, 7, 15, 16, 0, tzinfo=UTC)),
        ("2026-06-01", BERLIN, datetime(2026, 5, 31, 22, 0, tzinfo=UTC)),
        # In the spring-forward gap: shifted forward by the gap, to 03:30 local.
        ("2026-03-08T02:30", NEW_YORK, local(NEW_YORK, 2026, 3, 8, 3, 30)),
        # In the fall-back fold: the first occurrence (still summer time).
        ("2026-11-01T01:30", NEW_YORK, datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_a_timestamp_without_an_offset_is_wall_clock_time_in_the_task_zone(text, zone, expected):
    assert parse(text, zone).next_fire_time(ANCHOR) == expected


def test_surrounding_whitespace_is_ignored():
    assert preview(parse("  @daily \n"), ANCHOR, 3) == preview(parse("0 0 * * *"), ANCHOR, 3)
