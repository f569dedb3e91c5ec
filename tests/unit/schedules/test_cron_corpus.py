"""Cron reads as cronsim (which follows Debian cron) reads it, over a seeded corpus.

20,000 five-field and 5,000 six-field expressions over the README's grammar, with odd
forms mixed in, are each compared over their next 5 fire times from a random instant.
Zero disagreements: what we accept cronsim accepts and fires at the same times. What we
refuse carries a documented reason; where cronsim accepts what we refuse, the reason is
one of the few we chose on purpose (see the README's refused forms).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cronsim import CronSim, CronSimError

from taskbeat.schedules import CronRefused, Refusal, Schedule, parse_schedule
from tests.unit.schedules.cron_corpus import expressions

FIRES = 5
# cronsim gives up after 50 years without a match; ours goes on to year 9999.
CRONSIM_HORIZON_YEARS = 50
# cronsim accepts these and we refuse them, each for a reason the README gives.
DELIBERATE = {
    Refusal.BAD_STEP,  # a step larger than the field (cronsim: its first value)
    Refusal.MISPLACED_SPECIAL,  # L/2, LW/2: a step after L (cronsim drops it)
    Refusal.NEVER_FIRES,  # cronsim accepts, then finds no time
}
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Comparison:
    compared: int = 0
    refused: Counter[Refusal] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)

    def check(self, text: str, start: datetime) -> None:
        expected = cronsim_times(text, start)
        try:
            schedule = parse_schedule(text, "UTC", ANCHOR)
        except CronRefused as refused:
            self.refused[refused.reason] += 1
            if expected is not None and refused.reason not in DELIBERATE:
                self.disagreements.append(f"{text!r}: cronsim accepts; we refuse: {refused}")
            if refused.reason is Refusal.NEVER_FIRES and expected:
                self.disagreements.append(f"{text!r}: cronsim fires at {expected}")
            return
        self.compared += 1
        if expected is None:
            self.disagreements.append(f"{text!r}: we accept, cronsim refuses")
            return
        ours = our_times(schedule, start, len(expected) + 1)
        if ours != expected and not _beyond_cronsim_horizon(ours, expected):
            self.disagreements.append(f"{text!r} from {start}: {ours} != {expected}")


def cronsim_times(text: str, start: datetime) -> list[datetime] | None:
    """cronsim's next fire times from naive `start`, None if it refuses `text`."""
    try:
        iterator = CronSim(text, start)
    except CronSimError:
        return None
    times: list[datetime] = []
    for when in iterator:
        times.append(when)
        if len(times) == FIRES:
            break
    return times


def our_times(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    when: datetime | None = start.replace(tzinfo=UTC)
    while len(times) < min(count, FIRES) and (when := schedule.next_fire_time(when)) is not None:
        times.append(when.replace(tzinfo=None))
    return times


def _beyond_cronsim_horizon(ours: list[datetime], expected: list[datetime]) -> bool:
    """cronsim stopped early and our next time is past where it stopped looking."""
    if len(expected) == FIRES or ours[: len(expected)] != expected or len(ours) == len(expected):
        return False
    last = expected[-1] if expected else ours[0]
    return ours[len(expected)].year > last.year + CRONSIM_HORIZON_YEARS


def compare_corpus(seed: int, count: int, *, seconds: bool) -> Comparison:
    starts = random.Random(seed)
    comparison = Comparison()
    for text in expressions(seed, count, seconds=seconds):
        start = datetime(1990, 1, 1) + timedelta(
            seconds=starts.randrange(70 * 365 * 86400),
            microseconds=starts.choice([0, starts.randrange(1_000_000)]),
        )
        comparison.check(text, start)
    return comparison


def test_five_field_cron_agrees_with_cronsim_on_a_20000_expression_corpus():
    result = compare_corpus(20250601, 20_000, seconds=False)
    assert result.disagreements == []
    assert result.compared > 15_000
    # The corpus reaches every kind of refusal, so each reason above is exercised.
    assert set(result.refused) == set(Refusal)


def test_six_field_cron_agrees_with_cronsim_seconds_first():
    result = compare_corpus(20250602, 5_000, seconds=True)
    assert result.disagreements == []
    assert result.compared > 3_500


@pytest.mark.parametrize("seed", range(3))
def test_six_field_cron_fires_at_each_selected_second_of_each_five_field_minute(seed):
    """Reasoned per field: `S M H DoM Mon DoW` fires at second s of every minute that
    `M H DoM Mon DoW` fires at, for each s that `S` selects (cronsim reads both)."""
    start = datetime(2026, 3, 1)
    checked = 0
    for text in expressions(seed, 200, seconds=True):
        try:
            schedule = parse_schedule(text, "UTC", ANCHOR)
        except CronRefused:
            continue
        second_field, minute_fields = text.split(" ", 1)
        seconds = [t.second for t in cronsim_times_within(f"{second_field} * * * * *", start, 60)]
        minutes = cronsim_times(minute_fields, start - timedelta(minutes=1)) or []
        expected = sorted(m + timedelta(seconds=s) for m in minutes for s in seconds)
        expected = [t for t in expected if t > start][:FIRES]
        assert our_times(schedule, start, FIRES)[: len(expected)] == expected, text
        checked += bool(expected)
    assert checked > 100


def cronsim_times_within(text: str, start: datetime, count: int) -> list[datetime]:
    """cronsim's fire times in the minute from `start` (a whole minute)."""
    times = []
    for when in CronSim(text, start - timedelta(seconds=1)):
        if when >= start + timedelta(minutes=1) or len(times) == count:
            break
        times.append(when)
    return times
