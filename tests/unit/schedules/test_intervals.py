"""`every N ...`: a grid of real seconds from the anchor, exact at any distance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.schedules.helpers import (
    ANCHOR,
    HOUR,
    SECOND,
    parse,
)


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
