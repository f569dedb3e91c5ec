"""`every N ...`: a grid of real seconds from the anchor, exact at any distance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- Exact at any distance -----------------------------------------------------------

MICROSECOND = timedelta(microseconds=1)
FIRST_INSTANT = datetime(1, 1, 2, tzinfo=UTC)
LAST_INSTANT = datetime(9999, 12, 30, tzinfo=UTC)


def test_a_slot_four_centuries_from_the_anchor_is_not_late():
    # A float quotient put this at 00:42, one period late.
    after = datetime(2409, 12, 17, 0, 38, 59, 999999, tzinfo=UTC)
    assert parse("every 3 minutes").next_fire_time(after) == datetime(
        2409, 12, 17, 0, 39, tzinfo=UTC
    )


def as_microseconds(when: datetime) -> int:
    return (when - FIRST_INSTANT) // MICROSECOND


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(
    anchor=st.datetimes(FIRST_INSTANT.replace(tzinfo=None), LAST_INSTANT.replace(tzinfo=None)),
    unit=st.sampled_from(["second", "minute", "hour", "day"]),
    count=st.integers(1, 366),
    periods=st.integers(-3, 10**12),
    nudge=st.sampled_from([-1, 0, 1]) | st.integers(-(10**9), 10**9),
)
def test_the_next_interval_slot_is_the_first_grid_point_after_any_instant(
    anchor, unit, count, periods, nudge
):
    """Worked in integer microseconds: the grid point after `after` is anchor + k periods
    with k = floor((after - anchor) / period) + 1, or the anchor itself before it."""
    anchor = anchor.replace(tzinfo=UTC)
    seconds = count * {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[unit]
    if seconds > 366 * 86400:
        return
    period = seconds * 1_000_000
    start = as_microseconds(anchor)
    after_us = start + periods * period + nudge
    if not 0 <= after_us <= as_microseconds(LAST_INSTANT):
        return
    after = FIRST_INSTANT + after_us * MICROSECOND
    schedule = parse(f"every {count} {unit}s", anchor=anchor)
    expected = start if after_us < start else start + ((after_us - start) // period + 1) * period
    fire = schedule.next_fire_time(after)
    if fire is None:  # only past the end of the calendar
        assert expected > as_microseconds(LAST_INSTANT)
    else:
        assert as_microseconds(fire) == expected
