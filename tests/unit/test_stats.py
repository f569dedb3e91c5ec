"""Aggregates over recent history (store.stats) and the dashboard's strips (listings),
checked against figures computed by hand from the rows written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.dashboard.data import needs_attention
from taskbeat import store
from taskbeat.status import ExecutionStatus
from taskbeat.tasks.state import TaskStatus
from tests.conftest import START
from tests.unit.api.conftest import add_execution

HOUR = timedelta(hours=1)


def finished(
    sessions,
    task,
    minutes_ago: float,
    status=ExecutionStatus.SUCCEEDED,
    *,
    duration: float | None = 1.0,
    lag: float = 0.0,
    **values,
) -> int:
    """A run of `task` that started `lag` s after its slot and finished `minutes_ago`
    minutes before START, after `duration` seconds."""
    end = START - timedelta(minutes=minutes_ago)
    started = end - timedelta(seconds=duration or 0.0)
    slot = started - timedelta(seconds=lag)
    return add_execution(
        sessions,
        task,
        slot,
        status=status,
        started_at=started,
        finished_at=end,
        duration=duration,
        **values,
    )


def test_window_stats_count_each_status_and_the_mean_and_p95_run_time(sessions, make_task):
    a, b = make_task(name="a"), make_task(name="b")
    for seconds in (1.0, 2.0, 3.0, 4.0):
        finished(sessions, a, 10, duration=seconds)
    finished(sessions, a, 20, ExecutionStatus.FAILED, duration=10.0)
    finished(sessions, b, 30, ExecutionStatus.TIMED_OUT, duration=5.0)
    finished(sessions, b, 30, ExecutionStatus.SKIPPED, duration=None)
    finished(sessions, a, 90, duration=100.0)  # outside the hour
    finished(sessions, a, 5, duration=50.0, test_mode=True)  # test runs do not count

    with sessions() as session:
        window = store.stats.window_stats(session, START - HOUR)
    overall = window.overall
    assert overall.by_status == {
        ExecutionStatus.SUCCEEDED: 4,
        ExecutionStatus.FAILED: 1,
        ExecutionStatus.TIMED_OUT: 1,
        ExecutionStatus.SKIPPED: 1,
    }
    assert overall.success_rate == pytest.approx(4 / 6)
    assert overall.mean_duration == pytest.approx((1 + 2 + 3 + 4 + 10 + 5) / 6)
    # percentile_cont over [1, 2, 3, 4, 5, 10]: position 4.75 -> 5 + 0.75 * 5
    assert overall.p95_duration == pytest.approx(8.75)
    per_a = window.per_task[(a.id, "a")]
    assert per_a.succeeded == 4 and per_a.failed == 1
    assert per_a.p95_duration == pytest.approx(store.stats.percentile([1, 2, 3, 4, 10], 0.95))
    assert window.per_task[(b.id, "b")].success_rate == 0.0


def test_an_empty_window_has_no_rate_and_no_times(sessions):
    with sessions() as session:
        window = store.stats.window_stats(session, START - HOUR)
    assert window.per_task == {}
    assert window.overall.success_rate is None
    assert window.overall.p95_duration is None


def test_lag_is_measured_from_due_time_to_start(sessions, make_task):
    task = make_task()
    for lag in (0.1, 0.2, 0.3, 4.0):
        finished(sessions, task, 10, lag=lag)
    with sessions() as session:
        p95 = store.stats.p95_lag(session, START - HOUR)
        histogram = store.stats.histogram(session, START - HOUR, "lag", (0.15, 1.0, 10.0))
    assert p95 == pytest.approx(store.stats.percentile([0.1, 0.2, 0.3, 4.0], 0.95), abs=1e-3)
    assert histogram.cumulative == (1, 3, 4)
    assert histogram.count == 4
    assert histogram.total == pytest.approx(4.6, abs=1e-3)


def test_outcome_series_puts_each_run_in_its_time_bucket(sessions, make_task):
    task = make_task()
    start = START - HOUR
    finished(sessions, task, 59)  # minute 1 of the hour: bucket 0
    finished(sessions, task, 56, ExecutionStatus.FAILED)  # minute 4: bucket 0
    finished(sessions, task, 54)  # minute 6: bucket 1
    with sessions() as session:
        series = store.stats.outcome_series(session, start, 300)
    first = int(start.timestamp())
    assert series == {
        first: {ExecutionStatus.SUCCEEDED: 1, ExecutionStatus.FAILED: 1},
        first + 300: {ExecutionStatus.SUCCEEDED: 1},
    }


def test_backlog_counts_what_is_due_and_not_started(sessions, make_task, clock):
    task = make_task(schedule="every 10 seconds")
    late = START - timedelta(seconds=30)
    add_execution(sessions, task, late, status=ExecutionStatus.SCHEDULED)
    add_execution(sessions, task, late + timedelta(seconds=1), status=ExecutionStatus.QUEUED)
    add_execution(sessions, task, START + HOUR, status=ExecutionStatus.SCHEDULED)  # not due
    add_execution(sessions, task, late + timedelta(seconds=2), status=ExecutionStatus.RUNNING)
    with sessions() as session:
        found = store.stats.backlog(session, START + timedelta(seconds=10))
    assert (found.due_executions, found.queued, found.running, found.due_tasks) == (1, 1, 1, 1)
    assert found.oldest_waiting == late


def test_task_status_counts_show_paused_over_running_over_the_state(sessions, make_task):
    make_task(name="idle")
    busy = make_task(name="busy")
    make_task(name="stopped", enabled=False)
    add_execution(sessions, busy, START, status=ExecutionStatus.RUNNING)
    with sessions() as session:
        counts = store.stats.task_status_counts(session)
    assert counts[TaskStatus.ACTIVE] == 1
    assert counts[TaskStatus.RUNNING] == 1
    assert counts[TaskStatus.PAUSED] == 1
    assert sum(counts.values()) == 3


def test_recent_outcomes_are_each_tasks_latest_finished_runs_newest_first(sessions, make_task):
    a, b = make_task(name="a"), make_task(name="b")
    ids_a = [finished(sessions, a, 50 - n) for n in range(25)]
    failed_b = finished(sessions, b, 5, ExecutionStatus.FAILED)
    add_execution(sessions, b, START, status=ExecutionStatus.QUEUED)  # not finished
    with sessions() as session:
        strips = store.listings.recent_outcomes(session, [a.id, b.id, 999], 20)
    assert [i for i, _ in strips[a.id]] == sorted(ids_a, reverse=True)[:20]
    assert strips[b.id] == [(failed_b, ExecutionStatus.FAILED)]
    assert strips[999] == []


def test_needs_attention_lists_failed_tasks_and_those_without_success_for_n_periods(
    sessions, make_task, clock
):
    make_task(name="fine", schedule="every 60 seconds")
    stale = make_task(name="stale", schedule="every 60 seconds")
    make_task(name="slow", schedule="@daily")
    broken = make_task(name="broken")
    with sessions.begin() as session:
        store.tasks.get_task(session, broken.id).state = "failed"
        store.tasks.get_task(session, "fine").last_success_at = START + timedelta(minutes=9)
        store.tasks.get_task(session, "slow").last_success_at = START
    later = START + timedelta(minutes=10)
    with sessions() as session:
        found = needs_attention(session, later, periods=3)
    assert [(item.task.name, item.reason.split(":")[0]) for item in found] == [
        ("broken", "failed"),
        ("stale", "never succeeded in 3 periods (10m ago)"),
    ]
    assert stale.id in {item.task.id for item in found}
