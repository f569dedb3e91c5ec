"""Wall-clock times in a zone to instants, by the project's DST rule.

Cron times are wall-clock times in the task's IANA zone, and every one fires once:
- a wall time that a spring-forward gap skips fires shifted forward by the gap's length
  (02:30 on a night that jumps 02:00 -> 03:00 fires at 03:30; PEP 495's fold=0 reading);
- a wall time that a fall-back repeats fires at its first occurrence only.
A shifted time may land on a time that really happens after the gap (02:15 shifted by an
hour is 03:15): that instant fires once. So a schedule's fire instants are the sorted set
{instant(w) for every wall time w it selects}, and `next_instant` finds the least one
after any given instant, including one inside the hour that shifted times land in, or
inside the second pass of a repeated hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from taskbeat.errors import InvalidInput

# The first selected wall-clock time strictly after a given one, or None.
NextWall = Callable[[datetime], datetime | None]
TICK = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Longer than any offset change in the tz database (the longest is Pacific/Apia's 24-hour
# jump of 2011); how far back to look for a gap whose shifted times may still lie ahead.
LONGEST_GAP = timedelta(hours=26)


def wall_clock_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in `zone` as UTC: first occurrence in a fold, shifted
    forward by the gap inside a DST gap (PEP 495's fold=0)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def client_time(value: datetime, zone: ZoneInfo, field: str) -> datetime:
    """A time a client sent, as UTC; without an offset it is wall-clock time in `zone`."""
    try:
        if value.tzinfo is None:
            return wall_clock_to_utc(value, zone)
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(field, "is out of the calendar's range") from exc


def next_instant(next_wall: NextWall, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first instant strictly after `after` at which a wall time `next_wall` selects
    fires, by the rule above. Raises OverflowError at the ends of the calendar."""
    local = after.astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0)
    if local.fold:
        # In the second pass of a repeated hour: its wall times fired in the first pass.
        return _first_from(next_wall, zone, _end_of_repeat(zone, after, wall) - TICK)
    found = _first_from(next_wall, zone, wall)
    gap = _gap_ending_near(zone, after, local.utcoffset() or timedelta(0))
    if gap:
        # Times skipped by a gap that just ended land up to `gap` after it: some may be
        # later than `after` though their wall time is earlier than its wall time.
        shifted = _shifted(zone, next_wall(wall - gap))
        if shifted is not None and (found is None or shifted < found):
            return shifted
    return found


def _first_from(next_wall: NextWall, zone: ZoneInfo, wall: datetime) -> datetime | None:
    """The earliest instant of the wall times selected after `wall` (all later than the
    instant `wall` stands for): the first real one, or, if earlier, the shifted first
    one of a gap met on the way there."""
    shifted: datetime | None = None
    limit: datetime | None = None
    candidate = next_wall(wall)
    while candidate is not None and (limit is None or candidate < limit):
        early, late = _offsets(zone, candidate)
        if late <= early:  # a real wall time (a repeated one at its first occurrence)
            instant = _instant(candidate, early)
            return instant if shifted is None or instant < shifted else shifted
        if shifted is None:
            # The first selected time in this gap is the earliest of it after shifting;
            # real times after the gap can only beat it up to `limit`.
            shifted = _instant(candidate, early)
            limit = candidate + (late - early)
        candidate = next_wall(_gap_end(zone, candidate, early, late) - TICK)
    return shifted


def _shifted(zone: ZoneInfo, candidate: datetime | None) -> datetime | None:
    """The shifted instant of `candidate` if it falls in a gap, else None."""
    if candidate is None:
        return None
    early, late = _offsets(zone, candidate)
    return _instant(candidate, early) if late > early else None


def _gap_ending_near(zone: ZoneInfo, after: datetime, now: timedelta) -> timedelta | None:
    """The length g of a spring-forward gap that began at most g before `after` (whose
    offset is `now`), if any."""
    gap = now - _offset_at(zone, after - LONGEST_GAP)
    if gap <= timedelta(0) or _offset_at(zone, after - gap) == now:
        return None
    return gap


def _end_of_repeat(zone: ZoneInfo, after: datetime, wall: datetime) -> datetime:
    """The wall time at which the repeated hour that `after` is in the second pass of ends."""
    first_pass, _ = _offsets(zone, wall)
    repeat = first_pass - _offset_at(zone, after)
    fall_back = _transition(zone, after - repeat, after)
    return (fall_back + first_pass).replace(tzinfo=None)


def _gap_end(zone: ZoneInfo, wall: datetime, early: timedelta, late: timedelta) -> datetime:
    """The first real wall time after the gap that `wall` falls in."""
    spring_forward = _transition(zone, _instant(wall, late), _instant(wall, early))
    return (spring_forward + late).replace(tzinfo=None)


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] at which the zone's offset changes, found to the
    second (the tz database changes offsets on whole seconds)."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    offset_before = _offset_at(zone, before)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, EPOCH + timedelta(seconds=middle)) == offset_before:
            low = middle
        else:
            high = middle
    return EPOCH + timedelta(seconds=high)


def _offsets(zone: ZoneInfo, wall: datetime) -> tuple[timedelta, timedelta]:
    """The offsets of a wall time's first and second reading: equal for most times,
    early > late in a repeated hour, early < late in a gap."""
    early = zone.utcoffset(wall)
    late = zone.utcoffset(wall.replace(fold=1))
    assert early is not None and late is not None
    return early, late


def _offset_at(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _instant(wall: datetime, offset: timedelta) -> datetime:
    return (wall - offset).replace(tzinfo=UTC)
