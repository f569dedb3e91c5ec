"""Cron reads as Debian (Vixie) cron reads it: each case where croniter read otherwise,
worked out by hand from a calendar (the corpus test compares thousands more with cronsim)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from taskbeat.schedules import preview
from tests.unit.schedules.helpers import MINUTE, parse

NEW_YEAR_2025 = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday


def days(text: str, count: int = 4, after: datetime = NEW_YEAR_2025) -> list[date]:
    return [when.date() for when in preview(parse(text), after, count)]


def test_a_day_field_starting_with_a_star_means_both_day_fields_must_match():
    # Odd-numbered days that are Mondays; croniter gave Jan 3, 5, 6, 7 (either).
    assert days("0 0 */2 * 1") == [
        date(2025, 1, 13),
        date(2025, 1, 27),
        date(2025, 2, 3),
        date(2025, 2, 17),
    ]


def test_a_star_in_day_of_week_also_means_both_must_match():
    # */7 is Sundays (0 and 7); with 1-7 that is the month's first Sunday.
    assert days("0 0 1-7 * */7") == [
        date(2025, 1, 5),
        date(2025, 2, 2),
        date(2025, 3, 2),
        date(2025, 4, 6),
    ]


def test_two_restricted_day_fields_mean_either_may_match():
    # The 1st and 15th, and every Monday.
    assert days("0 0 1,15 * mon", 5) == [
        date(2025, 1, 6),
        date(2025, 1, 13),
        date(2025, 1, 15),
        date(2025, 1, 20),
        date(2025, 1, 27),
    ]


@pytest.mark.parametrize("text", ["5-5 * * * *", "05-5 * * * *", "5-5/2 * * * *", "5-5/60 * * * *"])
def test_a_one_value_range_is_that_value(text):
    times = preview(parse(text), NEW_YEAR_2025, 3)
    assert [(t.hour, t.minute) for t in times] == [(0, 5), (1, 5), (2, 5)]


@pytest.mark.parametrize(
    "sunday",
    ["sun-sun", "SUN-SUN", "7-7", "0-0", "7/1", "7", "0,7#1", "7#1,0", "*/7", "sun-sun/2"],
)
def test_these_day_of_week_forms_mean_every_sunday(sunday):
    assert days(f"0 0 * * {sunday}") == [
        date(2025, 1, 5),
        date(2025, 1, 12),
        date(2025, 1, 19),
        date(2025, 1, 26),
    ]


def test_a_step_from_one_value_runs_to_the_end_of_the_field():
    assert [t.minute for t in preview(parse("5/20 * * * *"), NEW_YEAR_2025, 4)] == [5, 25, 45, 5]
    # Day-of-week ends at 7, Sunday: 1/2 is Monday, Wednesday, Friday and Sunday.
    assert [d.isoweekday() for d in days("0 0 * * 1/2")] == [5, 7, 1, 3]


def test_a_step_as_large_as_the_field_keeps_its_first_value():
    times = preview(parse("*/60 * * * *"), NEW_YEAR_2025, 2)
    assert times == [NEW_YEAR_2025.replace(hour=1), NEW_YEAR_2025.replace(hour=2)]


def test_nth_weekday_with_a_day_of_month_means_either():
    # The second Monday of the month, and the 15th.
    assert days("0 0 15 * 1#2") == [
        date(2025, 1, 13),
        date(2025, 1, 15),
        date(2025, 2, 10),
        date(2025, 2, 15),
    ]


def test_nth_weekdays_may_stand_in_a_list():
    assert days("0 0 * * mon#1,3#2") == [
        date(2025, 1, 6),
        date(2025, 1, 8),
        date(2025, 2, 3),
        date(2025, 2, 12),
    ]


def test_a_fifth_weekday_fires_only_in_months_that_have_one():
    assert days("0 0 * * 1#5", 3) == [date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 29)]


def test_dl_is_the_last_such_weekday_of_the_month():
    assert days("0 0 * * 5L") == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 28),
        date(2025, 4, 25),
    ]
    assert days("0 0 * * 7L", 2) == days("0 0 * * 0L", 2) == [date(2025, 1, 26), date(2025, 2, 23)]


def test_l_is_the_last_day_of_the_month_leap_years_included():
    after = datetime(2028, 1, 1, tzinfo=UTC)
    assert days("0 0 L * *", 3, after) == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]


def test_lw_is_the_last_monday_to_friday_of_the_month():
    # May 2025 ends on a Saturday, August on a Sunday, September on a Tuesday.
    after = datetime(2025, 5, 1, tzinfo=UTC)
    assert days("0 0 LW * *", 5, after) == [
        date(2025, 5, 30),
        date(2025, 6, 30),
        date(2025, 7, 31),
        date(2025, 8, 29),
        date(2025, 9, 30),
    ]


def test_l_with_a_restricted_day_of_week_means_either():
    assert days("0 0 L * fri", 5) == [
        date(2025, 1, 3),
        date(2025, 1, 10),
        date(2025, 1, 17),
        date(2025, 1, 24),
        date(2025, 1, 31),
    ]


def test_six_field_cron_reads_each_field_like_five_field_cron_with_seconds_first():
    assert preview(parse("15-45/15 5-5 0 1 * *"), NEW_YEAR_2025, 4) == [
        datetime(2025, 1, 1, 0, 5, 15, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 5, 30, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 5, 45, tzinfo=UTC),
        datetime(2025, 2, 1, 0, 5, 15, tzinfo=UTC),
    ]


def test_six_field_days_follow_the_same_star_rule():
    assert days("0 0 0 */2 * 1") == days("0 0 */2 * 1")
    assert days("0 0 0 1,15 * mon", 5) == days("0 0 1,15 * mon", 5)


def test_a_minute_list_mixes_ranges_steps_and_values():
    times = preview(parse("1,10-12,*/30 * * * *"), NEW_YEAR_2025, 6)
    assert [t - NEW_YEAR_2025 for t in times] == [m * MINUTE for m in (1, 10, 11, 12, 30, 60)]
