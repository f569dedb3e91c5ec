"""What the dashboard's pages show, read through the store's bounded queries.

The overview's aggregates are shared for a few seconds between requests (one
computation per API process, however many people watch).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.dashboard import charts
from api.monitor import Monitor
from taskbeat import schedules, store
from taskbeat.errors import InvalidInput
from taskbeat.models import Task
from taskbeat.status import ExecutionStatus
from taskbeat.tasks.slots import upcoming_slots

OVERVIEW_CACHE = 5.0
# The day's figures read the most rows (a day of history) and move slowly: hourly bars.
DAY_CACHE = 60.0
ATTENTION_LIMIT = 20
HOUR, DAY = 3600, 86400


def schedule_in_words(text: str, timezone: str) -> str:
    """`every Monday at 09:00, Europe/Paris`, once `taskbeat.schedules.describe` exists
    (branch `cron`); until then, and for a schedule it cannot read, the text as written."""
    describe = getattr(schedules, "describe", None)
    if describe is None:
        return f"{text}, {timezone}"
    try:
        return str(describe(text, timezone))
    except InvalidInput:
        return text


@dataclass(frozen=True)
class Attention:
    task: Task
    reason: str


def needs_attention(session: Session, now: datetime, periods: int) -> list[Attention]:
    """Failed tasks, then recurring tasks with no success in `periods` of their periods."""
    found = [
        Attention(task, "failed: its latest slot used up its retries")
        for task in store.stats.failed_tasks(session, ATTENTION_LIMIT)
    ]
    seen = {item.task.id for item in found}
    # The candidates are the tasks longest without a success; each is judged by its own period.
    for task in store.stats.longest_without_success(session, now, ATTENTION_LIMIT * 5):
        period = _period(task)
        since = task.last_success_at or task.start_at or task.created_at
        if task.id in seen or period is None or now - since < period * periods:
            continue
        word = "never succeeded" if task.last_success_at is None else "no success"
        found.append(Attention(task, f"{word} in {periods} periods ({_ago(now - since)})"))
        if len(found) >= ATTENTION_LIMIT:
            break
    return found


def _period(task: Task) -> timedelta | None:
    try:
        first, second = upcoming_slots(task, 2)
    except (ValueError, InvalidInput):
        return None
    return second - first


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def overview(found: Monitor) -> dict[str, Any]:
    return found.cached("overview", OVERVIEW_CACHE, lambda: _overview(found))


def _overview(found: Monitor) -> dict[str, Any]:
    now = found.services.clock()
    settings = found.services.settings
    # Before the session below, not inside it: on SQLite each session holds the write
    # lock from its first statement, so two at once in one thread would wait on each other.
    day = found.cached("overview-day", DAY_CACHE, lambda: _day(found))
    with found.services.sessions() as session:
        hour = store.stats.window_stats(session, now - timedelta(seconds=HOUR))
        return {
            **day,
            "now": now,
            "tasks": store.stats.task_status_counts(session),
            "hour": hour.overall,
            "p95_lag": store.stats.p95_lag(session, now - timedelta(seconds=HOUR)),
            "backlog": store.stats.backlog(session, now),
            "attention": needs_attention(session, now, settings.attention_periods),
            "hour_chart": _chart(session, now, HOUR, 300, "Runs in the last hour, per 5 minutes"),
        }


def _day(found: Monitor) -> dict[str, Any]:
    now = found.services.clock()
    with found.services.sessions() as session:
        return {
            "day": store.stats.status_counts(session, now - timedelta(seconds=DAY)),
            "day_chart": _chart(session, now, DAY, HOUR, "Runs in the last day, per hour"),
        }


def _chart(session: Session, now: datetime, window: int, step: int, title: str) -> Any:
    start = (int(now.timestamp()) - window) // step * step + step
    series = store.stats.outcome_series(session, datetime.fromtimestamp(start, now.tzinfo), step)
    named = {at: {s.value: n for s, n in counts.items()} for at, counts in series.items()}
    return charts.bars(title, charts.outcome_bars(named, start, step, window // step))


def duration_chart(executions: list[Any]) -> Any:
    timed = [e for e in reversed(executions) if e.duration is not None]
    items = [
        charts.Bar(
            f"#{e.id} {e.status.value}",
            [("succeeded" if e.status is ExecutionStatus.SUCCEEDED else "failed", e.duration)],
        )
        for e in timed
    ]
    return charts.bars("Run time of the latest runs", items, unit=" s")
