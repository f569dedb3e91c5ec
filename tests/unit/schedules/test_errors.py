"""Schedules that are refused, each with the field or the reason to blame."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskbeat.errors import InvalidSchedule
from taskbeat.schedules import Refusal, preview
from tests.unit.schedules.helpers import (
    ANCHOR,
    parse,
    parse_error,
    refusal,
    schedule_error,
)


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


# --- Cron refusals, each with its reason --------------------------------------------

REFUSED = [
    # (expression, reason, the field named, a word of the advice)
    ("1-0 * * * *", Refusal.DESCENDING_RANGE, "minute", "1-59,0-0"),
    ("0 22-2 * * *", Refusal.DESCENDING_RANGE, "hour", "22-23,0-2"),
    ("0 0 * * fri-mon", Refusal.DESCENDING_RANGE, "day-of-week", "FRI-SAT,SUN-MON"),
    ("0 0 ? * *", Refusal.NOT_A_VALUE, "day-of-month", "write *"),
    ("0 0 * * monday", Refusal.NOT_A_VALUE, "day-of-week", "sun-sat"),
    ("1,,2 * * * *", Refusal.NOT_A_VALUE, "minute", "from 0 to 59"),
    ("0 0 15W * *", Refusal.NOT_A_VALUE, "day-of-month", "from 1 to 31"),
    ("0 ٣ * * *", Refusal.NON_ASCII, "hour", "ASCII"),
    ("0 0 * * \u017fun", Refusal.NON_ASCII, "day-of-week", "ASCII"),
    ("*/1000000000 * * * *", Refusal.BAD_STEP, "minute", "from 1 to 60"),
    ("0 0 * * */8", Refusal.BAD_STEP, "day-of-week", "from 1 to 7"),
    ("*/0 * * * *", Refusal.BAD_STEP, "minute", "from 1 to 60"),
    ("0 0 L/2 * *", Refusal.MISPLACED_SPECIAL, "day-of-month", "cannot follow L"),
    ("0 0 * * L5", Refusal.MISPLACED_SPECIAL, "day-of-week", "5L"),
    ("0 0 * * monL", Refusal.MISPLACED_SPECIAL, "day-of-week", "after a day number"),
    ("0 0 * * 1-5L", Refusal.MISPLACED_SPECIAL, "day-of-week", "after a day number"),
    ("0 0 1#2 * *", Refusal.NOT_A_VALUE, "day-of-month", "from 1 to 31"),
    ("0 L * * *", Refusal.NOT_A_VALUE, "hour", "from 0 to 23"),
    ("0 0 * * 1#6", Refusal.NTH_OUT_OF_RANGE, "day-of-week", "from 1 to 5"),
    ("0 0 * * 1#0", Refusal.NTH_OUT_OF_RANGE, "day-of-week", "from 1 to 5"),
    ("0 0 * * 8L", Refusal.OUT_OF_RANGE, "day-of-week", "from 0 to 7"),
    ("H * * * *", Refusal.RANDOMIZED, "minute", "write the time"),
    ("0 R * * *", Refusal.RANDOMIZED, "hour", "write the time"),
]


@pytest.mark.parametrize(("text", "reason", "field", "advice"), REFUSED)
def test_an_odd_cron_form_is_refused_naming_its_field_and_reason(text, reason, field, advice):
    refused_for, message = refusal(text)
    assert refused_for is reason
    assert message.startswith(f"cron field {field} ")
    assert advice in message


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 */31 * 1#5", "0 0 31 4,6 *"])
def test_a_cron_that_never_fires_is_refused_for_that_reason(text):
    assert refusal(text)[0] is Refusal.NEVER_FIRES


def test_a_cron_with_the_wrong_number_of_fields_is_refused_for_that_reason():
    assert refusal("* * * *")[0] is Refusal.FIELD_COUNT


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\x1c", "\n"])
def test_only_spaces_and_tabs_separate_cron_fields(space):
    # Python's split() takes these for separators; cron reads them as part of a field.
    refused_for, message = refusal(f"0{space}0 * * *")
    assert refused_for is Refusal.FIELD_COUNT
    assert "separated by spaces or tabs" in message
    assert refusal(f"0 0{space} * * *")[0] in (Refusal.NON_ASCII, Refusal.NOT_A_VALUE)
    if space != "\n":  # around a schedule, ASCII blanks are dropped; nothing else is
        assert refusal(f"{space}0 0 * * *")[0] in (Refusal.NON_ASCII, Refusal.NOT_A_VALUE)
        assert refusal(f"0 0 * * *{space}")[0] in (Refusal.NON_ASCII, Refusal.NOT_A_VALUE)


@pytest.mark.parametrize("text", ["every ٣ seconds", "every five minutes", "every 2 weeks"])
def test_an_every_that_is_not_well_formed_says_how_to_write_it(text):
    assert "every N seconds|minutes|hours|days" in schedule_error(text)
