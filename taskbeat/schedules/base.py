"""What every schedule offers, the one-time schedule, and what follows from any schedule:
where a task's first run falls, and a preview of its next fire times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Schedule(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def recurring(self) -> bool: ...

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (aware UTC), or None if none is left."""
        ...


@dataclass(frozen=True)
class OnceSchedule:
    """`now` or a timestamp: one fire, at `at`."""

    text: str
    at: datetime
    recurring: bool = False

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self.at if self.at > after else None


def first_fire_time(
    schedule: Schedule, now: datetime, start_at: datetime | None
) -> datetime | None:
    """Where a new (or re-armed) task's next_run_at starts.

    A one-time schedule fires at its time even if that has passed (it is then due at
    once); a recurring one fires at its first time from `start_at` (inclusive) or now on.
    """
    if isinstance(schedule, OnceSchedule):
        return schedule.at
    if start_at is not None and start_at > now:
        return schedule.next_fire_time(start_at - timedelta(microseconds=1))
    return schedule.next_fire_time(now)


def preview(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    times: list[datetime] = []
    current: datetime | None = after
    while len(times) < count and current is not None:
        current = schedule.next_fire_time(current)
        if current is not None:
            times.append(current)
    return times
