"""Next fire times, first fire times and previews, in UTC and in other zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskbeat.schedules import first_fire_time, preview
from tests.unit.schedules.helpers import (
    ANCHOR,
    BERLIN,
    HOUR,
    NEW_YORK,
    SECOND,
    parse,
)


@pytest.mark.parametrize("text", ["0 9 * * *", "0 9 * * * *", "every 1 day", "@daily"])
def test_the_next_fire_time_is_strictly_after_a_fire_time(text):
    schedule = parse(text, anchor=datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    fire = schedule.next_fire_time(ANCHOR)
    assert fire > ANCHOR
    assert schedule.next_fire_time(fire) > fire
    assert schedule.next_fire_time(fire - timedelta(microseconds=1)) == fire


def test_the_next_fire_time_after_a_fractional_second_is_the_next_whole_match():
    after = ANCHOR + timedelta(microseconds=500_000)
    assert parse("* * * * * *").next_fire_time(after) == ANCHOR + SECOND
    assert parse("* * * * *").next_fire_time(after) == ANCHOR + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        ("Asia/Tokyo", ANCHOR, datetime(2026, 1, 6, 0, 0, tzinfo=UTC)),
        (NEW_YORK, ANCHOR, datetime(2026, 1, 5, 14, 0, tzinfo=UTC)),
        (NEW_YORK, datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, 13, 0, tzinfo=UTC)),
        (BERLIN, ANCHOR, datetime(2026, 1, 6, 8, 0, tzinfo=UTC)),
        (BERLIN, datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
        ("Asia/Kolkata", ANCHOR, datetime(2026, 1, 6, 3, 30, tzinfo=UTC)),
    ],
)
def test_cron_times_are_wall_clock_times_in_the_task_zone(zone, after, expected):
    fire = parse("0 9 * * *", zone).next_fire_time(after)
    assert fire == expected
    assert fire.utcoffset() == timedelta(0)


def test_a_cron_day_is_the_local_day_not_the_utc_day():
    # Monday 00:30 in Tokyo is still Sunday in UTC.
    fire = parse("30 0 * * mon", "Asia/Tokyo").next_fire_time(ANCHOR)
    assert fire == datetime(2026, 1, 11, 15, 30, tzinfo=UTC)


def test_without_start_at_a_recurring_task_first_fires_after_now():
    now = ANCHOR + timedelta(minutes=7)
    assert first_fire_time(parse("*/15 * * * *"), now, None) == ANCHOR + timedelta(minutes=15)


def test_a_future_start_at_on_a_fire_time_is_itself_the_first_fire():
    start_at = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    assert first_fire_time(parse("0 9 * * *"), ANCHOR, start_at) == start_at


def test_a_future_start_at_between_fire_times_fires_at_the_next_one():
    start_at = datetime(2026, 2, 2, 9, 1, tzinfo=UTC)
    expected = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
    assert first_fire_time(parse("0 9 * * *"), ANCHOR, start_at) == expected


def test_a_past_start_at_counts_from_now():
    now = ANCHOR + timedelta(minutes=7)
    start_at = ANCHOR - timedelta(days=3)
    assert first_fire_time(parse("*/15 * * * *"), now, start_at) == ANCHOR + timedelta(minutes=15)


def test_an_interval_task_with_a_future_start_at_first_fires_at_start_at():
    start_at = ANCHOR + timedelta(days=2, seconds=13)
    schedule = parse("every 10 minutes", anchor=start_at)
    assert first_fire_time(schedule, ANCHOR, start_at) == start_at


@pytest.mark.parametrize("offset", [-timedelta(days=30), -SECOND, timedelta(0), HOUR])
def test_a_one_time_schedule_first_fires_at_its_time_even_if_past(offset):
    at = ANCHOR + offset
    schedule = parse(at.isoformat())
    assert first_fire_time(schedule, ANCHOR, None) == at
    assert first_fire_time(schedule, ANCHOR, ANCHOR + timedelta(days=1)) == at


def test_preview_lists_count_fire_times_in_order():
    assert preview(parse("*/15 * * * *"), ANCHOR, 4) == [
        ANCHOR + timedelta(minutes=m) for m in (15, 30, 45, 60)
    ]


def test_preview_of_nothing_is_empty():
    assert preview(parse("@daily"), ANCHOR, 0) == []


def test_preview_of_a_one_time_schedule_stops_after_its_time():
    at = ANCHOR + HOUR
    assert preview(parse(at.isoformat()), ANCHOR, 5) == [at]
    assert preview(parse(at.isoformat()), at, 5) == []
    assert preview(parse("now"), ANCHOR - SECOND, 5) == [ANCHOR]
