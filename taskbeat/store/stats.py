"""Aggregates over recent history, for stats, health, metrics and the dashboard.

Every history query reads a bounded window of `finished_at` (served by
`ix_executions_finished_at`) or what is due now (`ix_executions_status_due`), so its
cost follows recent activity, never the size of the history. Percentiles are computed
by PostgreSQL (`percentile_cont`); SQLite, which has none, hands the window's values
to Python (a development database, with development volumes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from taskbeat.db import is_postgresql
from taskbeat.models import Execution, Task
from taskbeat.status import ACTIVE_STATUSES, FAILURE_STATUSES, ExecutionStatus
from taskbeat.store.sql import Executor, bind_of, epoch, floor_int, read_utc
from taskbeat.tasks.state import TaskState, TaskStatus

TaskKey = tuple[int, str]  # (task id, task name)
LAG = epoch(Execution.started_at) - epoch(Execution.due_at)  # slot (or retry due time) to start


@dataclass
class Outcomes:
    """What finished in a window: counts by status, and run times."""

    by_status: dict[ExecutionStatus, int] = field(default_factory=dict)
    mean_duration: float | None = None
    p95_duration: float | None = None

    @property
    def succeeded(self) -> int:
        return self.by_status.get(ExecutionStatus.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        return sum(self.by_status.get(status, 0) for status in FAILURE_STATUSES)

    @property
    def success_rate(self) -> float | None:
        """Successes among the runs that succeeded or failed (skips do not count)."""
        ran = self.succeeded + self.failed
        return None if ran == 0 else self.succeeded / ran


@dataclass(frozen=True)
class WindowStats:
    overall: Outcomes
    per_task: dict[TaskKey, Outcomes]


def _finished_since(since: datetime) -> list[ColumnElement[bool]]:
    return [Execution.finished_at >= since, Execution.test_mode.is_(False)]


def window_stats(db: Executor, since: datetime, task_id: int | None = None) -> WindowStats:
    """Counts, mean and p95 duration of what finished since `since`, overall and per task."""
    where = _finished_since(since)
    if task_id is not None:
        where.append(Execution.task_id == task_id)
    counts = db.execute(
        select(
            Execution.task_id,
            Execution.task_name,
            Execution.status,
            func.count(),
            func.sum(Execution.duration),
            func.count(Execution.duration),
        )
        .where(*where)
        .group_by(Execution.task_id, Execution.task_name, Execution.status)
    ).all()
    per_task: dict[TaskKey, Outcomes] = defaultdict(Outcomes)
    overall = Outcomes()
    sums: dict[TaskKey | None, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for task, name, status, count, total, timed in counts:
        for key, outcomes in (((task, name), per_task[(task, name)]), (None, overall)):
            outcomes.by_status[status] = outcomes.by_status.get(status, 0) + count
            sums[key][0] += total or 0.0
            sums[key][1] += timed
    p95 = _p95_durations(db, where)
    for key, outcomes in [*per_task.items(), (None, overall)]:
        seconds, runs = sums[key]
        outcomes.mean_duration = seconds / runs if runs else None
        outcomes.p95_duration = p95.get(key)
    return WindowStats(overall, dict(per_task))


def status_counts(db: Executor, since: datetime) -> Outcomes:
    """Only the counts by status of what finished since `since` (no run times)."""
    rows = db.execute(
        select(Execution.status, func.count())
        .where(*_finished_since(since))
        .group_by(Execution.status)
    )
    return Outcomes(by_status={status: count for status, count in rows})


def _p95_durations(db: Executor, where: list[ColumnElement[bool]]) -> dict[Any, float]:
    """p95 run time per task (keyed by (id, name)) and overall (keyed by None)."""
    timed = [*where, Execution.duration.is_not(None)]
    if is_postgresql(bind_of(db)):
        p95 = func.percentile_cont(0.95).within_group(Execution.duration.asc())
        found: dict[Any, float] = {
            (task, name): value
            for task, name, value in db.execute(
                select(Execution.task_id, Execution.task_name, p95)
                .where(*timed)
                .group_by(Execution.task_id, Execution.task_name)
            )
        }
        overall = db.scalar(select(p95).where(*timed))
        if overall is not None:
            found[None] = overall
        return found
    values: dict[Any, list[float]] = defaultdict(list)
    rows = db.execute(
        select(Execution.task_id, Execution.task_name, Execution.duration).where(*timed)
    ).all()
    for task, name, duration in rows:
        if duration is not None:  # filtered in SQL; said again for the type checker
            values[(task, name)].append(duration)
            values[None].append(duration)
    return {key: percentile(items, 0.95) for key, items in values.items()}


def percentile(values: Iterable[float], q: float) -> float:
    """The q-quantile by linear interpolation (as percentile_cont computes it)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p95_lag(db: Executor, since: datetime) -> float | None:
    """p95 of slot-to-start lag, in seconds, over the runs that finished since `since`."""
    where = [*_finished_since(since), Execution.started_at.is_not(None)]
    if is_postgresql(bind_of(db)):
        p95 = func.percentile_cont(0.95).within_group(LAG.asc())
        value = db.scalar(select(p95).where(*where))
        return None if value is None else max(float(value), 0.0)
    lags = [max(value, 0.0) for value in db.scalars(select(LAG).where(*where))]
    return percentile(lags, 0.95) if lags else None


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts at each bound (as Prometheus buckets are), the count and sum."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total: float


def histogram(db: Executor, since: datetime, of: str, bounds: Sequence[float]) -> Histogram:
    """Run times (`of="duration"`) or lags (`of="lag"`) of what finished since `since`,
    bucketed in SQL: one row comes back, however many runs there were."""
    value: Any = Execution.duration if of == "duration" else func.max(LAG, 0.0)
    if of == "lag" and is_postgresql(bind_of(db)):
        value = func.greatest(LAG, 0.0)
    counts = [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]
    row = db.execute(
        select(*counts, func.count(value), func.sum(value)).where(
            *_finished_since(since), Execution.started_at.is_not(None)
        )
    ).one()
    *cumulative, count, total = row
    return Histogram(
        tuple(bounds), tuple(int(c or 0) for c in cumulative), int(count or 0), float(total or 0)
    )


def outcome_series(
    db: Executor, since: datetime, bucket_seconds: int
) -> dict[int, dict[ExecutionStatus, int]]:
    """Finished runs per time bucket and status: {bucket start (epoch s): {status: n}}."""
    start = int(since.timestamp())
    bucket = floor_int((epoch(Execution.finished_at) - start) / bucket_seconds)
    rows = db.execute(
        select(bucket, Execution.status, func.count())
        .where(*_finished_since(since))
        .group_by(bucket, Execution.status)
    )
    series: dict[int, dict[ExecutionStatus, int]] = defaultdict(dict)
    for index, status, count in rows:
        series[start + int(index) * bucket_seconds][status] = count
    return dict(series)


@dataclass(frozen=True)
class Backlog:
    """Work that is due now and not started."""

    due_executions: int  # scheduled rows due now (retries, manual runs, unpublished slots)
    queued: int  # published, waiting for a worker
    running: int
    due_tasks: int  # tasks whose next slot has come and not been dispatched
    oldest_waiting: datetime | None  # due time of the longest-waiting unstarted run


def backlog(db: Executor, now: datetime) -> Backlog:
    """What is due and not started: read from the indexes on (status, due_at) and
    next_run_at, so it costs what is due, not what exists."""
    counts = dict(
        db.execute(
            select(Execution.status, func.count())
            .where(
                Execution.status.in_(ACTIVE_STATUSES),
                Execution.due_at <= now,
            )
            .group_by(Execution.status)
        ).all()
    )
    oldest = db.scalar(
        select(func.min(Execution.due_at)).where(
            Execution.status.in_((ExecutionStatus.SCHEDULED, ExecutionStatus.QUEUED)),
            Execution.due_at <= now,
        )
    )
    due_tasks = db.scalar(select(func.count()).where(Task.next_run_at <= now)) or 0
    return Backlog(
        due_executions=counts.get(ExecutionStatus.SCHEDULED, 0),
        queued=counts.get(ExecutionStatus.QUEUED, 0),
        running=counts.get(ExecutionStatus.RUNNING, 0),
        due_tasks=due_tasks,
        oldest_waiting=None if oldest is None else read_utc(oldest),
    )


def task_status_counts(db: Executor) -> dict[TaskStatus, int]:
    """How many tasks show each status (paused over running over the stored state)."""
    counts = dict.fromkeys(TaskStatus, 0)
    running_ids = (
        select(Execution.task_id)
        .where(Execution.status == ExecutionStatus.RUNNING, Execution.test_mode.is_(False))
        .distinct()
    )
    rows = db.execute(
        select(Task.state, Task.enabled, Task.id.in_(running_ids), func.count()).group_by(
            Task.state, Task.enabled, Task.id.in_(running_ids)
        )
    )
    for state, enabled, running, count in rows:
        if not enabled:
            counts[TaskStatus.PAUSED] += count
        elif running:
            counts[TaskStatus.RUNNING] += count
        else:
            counts[TaskStatus(TaskState(state).value)] += count
    return counts


def failed_tasks(db: Executor, limit: int) -> list[Task]:
    """Tasks whose latest slot used up its retries (from the partial index of them)."""
    query = select(Task).where(Task.state == TaskState.FAILED).order_by(Task.id).limit(limit)
    return list(db.execute(query).scalars())


def longest_without_success(db: Executor, before: datetime, limit: int) -> list[Task]:
    """Enabled recurring tasks with no success since `before`, longest first; the caller
    judges each against its own period. Not indexed (every success writes
    last_success_at, which must stay cheap): it reads every recurring task, so callers
    cache it."""
    query = (
        select(Task)
        .where(
            Task.enabled.is_(True),
            Task.recurring.is_(True),
            Task.next_run_at.is_not(None),
            (Task.last_success_at < before) | Task.last_success_at.is_(None),
        )
        .order_by(Task.last_success_at.asc().nulls_first(), Task.id)
        .limit(limit)
    )
    return list(db.execute(query).scalars())


def last_successes(db: Executor, limit: int) -> list[tuple[str, datetime | None]]:
    """(task name, last success) of the first `limit` tasks by id."""
    rows = db.execute(select(Task.name, Task.last_success_at).order_by(Task.id).limit(limit))
    return [(name, value) for name, value in rows]


def queues(db: Executor) -> list[str]:
    """The queues tasks are routed to."""
    return sorted(db.scalars(select(Task.queue).distinct()))
