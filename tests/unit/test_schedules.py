"""Schedule parsing and fire times: every form, every error, DST in two zones, anchoring."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from taskbeat.errors import InvalidInput, InvalidSchedule
from taskbeat.schedules import Schedule, first_fire_time, parse_schedule, preview

ANCHOR = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


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


# --- The forms a schedule may take ---------------------------------------------------


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


# --- Errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("60 * * * *", "minute"),
        ("0 25 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 0 * *", "day-of-month"),
        ("0 0 1 13 *", "month"),
        ("0 0 1 foo *", "month"),
        ("* * * * 8", "day-of-week"),
        ("* * * * sunday-ish", "day-of-week"),
        ("61 * * * * *", "second"),
        ("0 60 * * * *", "minute"),
        ("0 0 24 * * *", "hour"),
        ("0 0 0 * * 9", "day-of-week"),
    ],
)
def test_a_bad_cron_field_is_named_in_the_error(text, field):
    assert f"cron field {field} " in schedule_error(text)


@pytest.mark.parametrize(("text", "count"), [("* * * *", 4), ("* * * * * * *", 7), ("hourly", 1)])
def test_a_cron_with_the_wrong_number_of_fields_is_rejected(text, count):
    message = schedule_error(text)
    assert "5 fields" in message
    assert f"has {count}" in message


def test_an_unknown_at_name_is_rejected_listing_the_known_ones():
    message = schedule_error("@fortnightly")
    assert "'@fortnightly'" in message
    assert "@daily" in message


@pytest.mark.parametrize("text", ["every 0 seconds", "every 0 days"])
def test_an_interval_of_zero_is_rejected(text):
    assert "at least 1" in schedule_error(text)


def test_an_interval_over_366_days_is_rejected():
    assert "at most 366 days" in schedule_error("every 367 days")


@pytest.mark.parametrize("text", ["every -1 seconds", "every 1.5 hours", "every 5 weeks"])
def test_a_malformed_every_is_rejected(text):
    assert schedule_error(text)


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"])
def test_a_cron_that_never_fires_is_rejected(text):
    assert "never fires" in schedule_error(text)


def test_a_leap_day_cron_is_accepted_and_fires_every_four_years():
    assert preview(parse("0 0 29 2 *"), ANCHOR, 2) == [
        datetime(2028, 2, 29, tzinfo=UTC),
        datetime(2032, 2, 29, tzinfo=UTC),
    ]


@pytest.mark.parametrize("text", ["2026-13-01T00:00", "2026-02-30T10:00", "2026-06-01Tnoon"])
def test_a_bad_timestamp_is_rejected(text):
    assert "ISO-8601" in schedule_error(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_schedule_is_rejected(text):
    assert "empty" in schedule_error(text)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "Not A Zone"])
def test_an_unknown_time_zone_is_blamed_on_the_timezone_field(zone):
    error = parse_error("@daily", zone)
    assert not isinstance(error, InvalidSchedule)
    assert error.field == "timezone"
    assert "time zone" in error.message


# --- Next fire times -----------------------------------------------------------------


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


# --- Daylight saving time ------------------------------------------------------------

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


# --- Interval anchoring --------------------------------------------------------------


def test_an_interval_grid_is_counted_from_the_anchor():
    anchor = datetime(2026, 1, 5, 9, 0, 7, tzinfo=UTC)
    schedule = parse("every 5 minutes", anchor=anchor)
    assert schedule.next_fire_time(datetime(2026, 1, 5, 9, 12, tzinfo=UTC)) == datetime(
        2026, 1, 5, 9, 15, 7, tzinfo=UTC
    )
    assert schedule.next_fire_time(anchor + timedelta(minutes=10)) == anchor + timedelta(minutes=15)


def test_an_interval_fires_far_from_its_anchor_still_on_the_grid():
    schedule = parse("every 7 seconds")
    after = ANCHOR + timedelta(days=3650) + timedelta(microseconds=1)
    fire = schedule.next_fire_time(after)
    assert fire > after
    assert fire - after <= 7 * SECOND
    assert (fire - ANCHOR) % (7 * SECOND) == timedelta(0)


@pytest.mark.parametrize("before", [timedelta(days=30), HOUR, timedelta(microseconds=1)])
def test_before_its_anchor_an_interval_first_fires_at_the_anchor(before):
    assert parse("every 1 hours").next_fire_time(ANCHOR - before) == ANCHOR


def test_at_its_anchor_an_interval_next_fires_one_period_later():
    assert parse("every 1 hours").next_fire_time(ANCHOR) == ANCHOR + HOUR


# --- First fire time and preview -----------------------------------------------------


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
