"""The DST rule holds at every offset change of 2024-2030 in six zones, from any start.

For random minute/hour (and weekday, and second) cron expressions, the fire times from a
random instant up to a horizon equal, one for one, those of an oracle written apart from
the scheduler (`dst_oracle`): none missing, extra, repeated or out of order. Starts fall
anywhere near the change: before it, on it, inside the hour that shifted times land in,
or inside the second pass of a repeated hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskbeat.schedules import parse_schedule
from tests.unit.schedules.dst_oracle import offset_changes, wall_clock

ZONES = [
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Chatham",  # +12:45 / +13:45, changing at 02:45 / 03:45
    "America/Santiago",  # southern hemisphere, changing at midnight
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",  # no DST: any instant will do
]
FIRST_YEAR, LAST_YEAR = 2024, 2030
AROUND = timedelta(hours=30)  # wall clock the oracle enumerates on each side of a change
STARTS_WITHIN = timedelta(hours=3)  # of the change
HORIZON = timedelta(hours=6)  # after the change, where the comparison stops
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
EXAMPLES_PER_ZONE = 120

# Fixed examples (no database, derandomized), bounded so the suite stays fast.
PROPERTY = settings(
    derandomize=True,
    database=None,
    max_examples=EXAMPLES_PER_ZONE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def moments(zone: str) -> list[datetime]:
    """The zone's offset changes, or (with none) the start of each year and mid-year."""
    changes = offset_changes(zone, FIRST_YEAR, LAST_YEAR)
    if changes:
        return changes
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    return [datetime(y, m, 1, tzinfo=UTC) for y in years for m in (1, 7)]


# A field as written, and the values it selects.
Written = tuple[str, frozenset[int]]


@dataclass(frozen=True)
class Case:
    zone: str
    moment: datetime  # an offset change
    seconds: frozenset[int] | None  # None: a 5-field expression
    minutes: Written  # as written, and what it selects
    hours: Written
    weekdays: Written  # cron numbering, 0 = Sunday
    start: datetime

    @property
    def text(self) -> str:
        fields = [self.minutes[0], self.hours[0], "*", "*", self.weekdays[0]]
        if self.seconds is not None:
            fields.insert(0, _listed(self.seconds))
        return " ".join(fields)

    def selects(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes[1]
            and wall.hour in self.hours[1]
            and (wall.isoweekday() % 7) in self.weekdays[1]
        )

    def expected(self) -> list[datetime]:
        """The oracle's fire times in (start, moment + HORIZON]."""
        clock = wall_clock(self.zone, self.moment - AROUND, self.moment + AROUND)
        minutes = clock.fire_times(self.selects)
        at = [timedelta(seconds=s) for s in sorted(self.seconds or {0})]
        fires = sorted({minute + second for minute in minutes for second in at})
        return [t for t in fires if self.start < t <= self.moment + HORIZON]

    def actual(self) -> list[datetime]:
        schedule = parse_schedule(self.text, self.zone, ANCHOR)
        times: list[datetime] = []
        when = schedule.next_fire_time(self.start)
        while when is not None and when <= self.moment + HORIZON:
            times.append(when)
            when = schedule.next_fire_time(when)
        return times


def _listed(values: frozenset[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def _field(high: int, listed: st.SearchStrategy[frozenset[int]]) -> st.SearchStrategy[Written]:
    """A field from 0 to `high` as `*`, a step or a list, with the values it selects."""
    every = st.just(("*", frozenset(range(high + 1))))
    steps = st.integers(2, high // 2).map(lambda n: (f"*/{n}", frozenset(range(0, high + 1, n))))
    return st.one_of(every, steps, listed.map(lambda values: (_listed(values), values)))


# Strategies are built once: building them per example costs more than the example.
SECONDS = st.none() | st.frozensets(st.integers(0, 59), min_size=1, max_size=3)
MINUTES = _field(59, st.frozensets(st.integers(0, 59), min_size=1, max_size=6))
# Listed hours -4 to -1 stand for the change's local hour -2 to +1, to hit it often.
HOURS = _field(23, st.frozensets(st.integers(-4, 23), min_size=1, max_size=4))
WEEKDAYS = st.just(("*", frozenset(range(7)))) | st.frozensets(
    st.integers(0, 6), min_size=1, max_size=3
).map(lambda days: (_listed(days), days))
MICROSECONDS_NEAR = st.integers(
    -STARTS_WITHIN // timedelta(microseconds=1), STARTS_WITHIN // timedelta(microseconds=1)
) | st.integers(-2, 2)


def _near(hours: Written, local_hour: int) -> Written:
    """Listed hours, the stand-ins for hours near the change made real."""
    written, values = hours
    if written.startswith("*"):
        return hours
    real = frozenset((local_hour + v + 2) % 24 if v < 0 else v for v in values)
    return _listed(real), real


@st.composite
def cases(draw: st.DrawFn, zone: str) -> Case:
    moment = draw(st.sampled_from(moments(zone)))
    local_hour = moment.astimezone(ZoneInfo(zone)).hour
    return Case(
        zone=zone,
        moment=moment,
        seconds=draw(SECONDS),
        minutes=draw(MINUTES),
        hours=_near(draw(HOURS), local_hour),
        weekdays=draw(WEEKDAYS),
        start=moment + timedelta(microseconds=draw(MICROSECONDS_NEAR)),
    )


@pytest.mark.parametrize("zone", ZONES)
def test_cron_fire_times_around_every_offset_change_match_the_oracle(zone):
    @PROPERTY
    @given(case=cases(zone))
    def holds(case: Case) -> None:
        actual = case.actual()
        assert all(earlier < later for earlier, later in pairwise(actual)), case.text
        assert actual == case.expected(), case.text

    holds()


def test_the_zones_change_offsets_as_the_oracle_expects():
    """Guard the property's premise: each DST zone changes twice a year, 2024-2030."""
    for zone in ZONES[:-1]:
        assert len(moments(zone)) == 2 * (LAST_YEAR - FIRST_YEAR + 1), zone
