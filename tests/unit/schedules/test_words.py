"""A schedule in words: a sentence for each common form, the expression itself otherwise."""

from __future__ import annotations

import pytest

from taskbeat.schedules import describe


@pytest.mark.parametrize(
    ("text", "zone", "words"),
    [
        ("0 9 * * 1", "Europe/Paris", "every Monday at 09:00, Europe/Paris"),
        ("0 9 * * mon-fri", "America/New_York", "every weekday at 09:00, America/New_York"),
        ("0 0 * * sat,sun", "UTC", "every Saturday and Sunday at 00:00, UTC"),
        ("0 9,17 * * *", "UTC", "every day at 09:00 and 17:00, UTC"),
        ("30 15 9 * * *", "UTC", "every day at 09:15:30, UTC"),
        ("30 8 1,15 * *", "UTC", "on days 1 and 15 of the month at 08:30, UTC"),
        ("0 0 L * *", "UTC", "on the last day of the month at 00:00, UTC"),
        ("0 18 LW * *", "UTC", "on the last weekday of the month at 18:00, UTC"),
        ("0 10 * * 1#2", "UTC", "on the second Monday of the month at 10:00, UTC"),
        ("0 10 * * 5L", "UTC", "on the last Friday of the month at 10:00, UTC"),
        ("0 12 * 1,7 *", "UTC", "every day at 12:00 in January and July, UTC"),
        ("0 0 24 12 *", "Europe/Paris", "every year on 24 December at 00:00, Europe/Paris"),
    ],
)
def test_a_cron_at_a_few_times_of_day_names_the_days_the_times_and_the_zone(text, zone, words):
    assert describe(text, zone) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/15 * * * *", "every 15 minutes"),
        ("5 * * * *", "at minute 5 past every hour"),
        ("0 * * * *", "every hour, on the hour"),
        ("0 */2 * * *", "every 2 hours, on the hour"),
        ("* * * * * *", "every second"),
        ("*/10 * * * * *", "every 10 seconds"),
        ("0 */5 * * * *", "every 5 minutes"),
    ],
)
def test_a_cron_that_fires_all_day_says_how_often(text, words):
    assert describe(text, "Europe/Paris") == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("@hourly", "every hour, on the hour"),
        ("@daily", "every day at 00:00, UTC"),
        ("@midnight", "every day at 00:00, UTC"),
        ("@weekly", "every Sunday at 00:00, UTC"),
        ("@monthly", "on day 1 of the month at 00:00, UTC"),
        ("@yearly", "every year on 1 January at 00:00, UTC"),
    ],
)
def test_an_at_name_reads_like_its_cron_expression(text, words):
    assert describe(text, "UTC") == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("every 30 seconds", "every 30 seconds"),
        ("every 1 minute", "every minute"),
        ("every 90 minutes", "every 90 minutes"),
        ("every 120 minutes", "every 2 hours"),
        ("every 1 day", "every day"),
        ("every 3 days", "every 3 days"),
    ],
)
def test_an_interval_reads_in_its_largest_whole_unit(text, words):
    assert describe(text, "Asia/Tokyo") == words


def test_a_timestamp_reads_in_the_task_zone():
    assert describe("2026-12-24T18:00", "Europe/Paris") == "once at 2026-12-24 18:00 (Europe/Paris)"
    assert describe("2026-12-24T18:00:00+01:00", "UTC") == "once at 2026-12-24 17:00 (UTC)"
    assert describe("2026-12-24T18:00:30Z", "UTC") == "once at 2026-12-24 18:00:30 (UTC)"


def test_now_reads_as_once_straight_away():
    assert describe("now", "UTC") == "once, straight away"


@pytest.mark.parametrize(
    "text", ["0 0 */2 * 1", "0-30 9 * * *", "0 9-17 * * *", "0 0 1 * mon", "7 9 * * 1#2,5L"]
)
def test_an_intricate_cron_is_shown_as_written_with_its_zone(text):
    assert describe(f" {text} ", "Europe/Paris") == f"{text}, Europe/Paris"
