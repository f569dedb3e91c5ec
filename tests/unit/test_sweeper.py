"""The sweep for lost runs: a running execution whose worker stopped heartbeating."""

from __future__ import annotations

from datetime import timedelta

from scheduler.sweeper import sweep_lost
from taskbeat.executions.lifecycle import Outcome
from taskbeat.status import ExecutionStatus
from taskbeat.tasks.state import TaskState
from tests.runs import claimed, history, reload, settle


def test_a_worker_that_stops_heartbeating_is_declared_lost_and_its_run_retried(
    settings, sessions, clock, make_task, run_now
):
    task = make_task(handler="echo", max_retries=1, retry_delay=3)
    execution = run_now(task)
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after - 1)
    assert sweep_lost(settings, sessions, clock) == 0
    clock.advance(2)
    assert sweep_lost(settings, sessions, clock) == 1
    lost, retry = history(sessions, task)
    assert lost.status is ExecutionStatus.LOST
    assert lost.error_type == "WorkerLost"
    assert retry.due_at == clock() + timedelta(seconds=3)
    assert reload(sessions, task).state is TaskState.RETRY_SCHEDULED


def test_an_outcome_arriving_after_the_run_was_declared_lost_is_dropped(
    settings, sessions, clock, make_task, run_now
):
    task = make_task(handler="echo")
    execution = run_now(task)
    run = claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)
    sweep_lost(settings, sessions, clock)
    assert settle(sessions, run, Outcome(ExecutionStatus.SUCCEEDED), clock()) is None
    assert history(sessions, task)[0].status is ExecutionStatus.LOST


def test_a_run_past_its_timeout_whose_worker_died_is_timed_out_not_lost(
    settings, sessions, clock, make_task, run_now
):
    task = make_task(handler="echo", timeout=30)
    execution = run_now(task)
    claimed(sessions, execution.id, clock())
    clock.advance(settings.lost_after + 1)
    assert sweep_lost(settings, sessions, clock) == 1
    [timed_out] = history(sessions, task)
    assert timed_out.status is ExecutionStatus.TIMED_OUT
    assert "30s time limit" in timed_out.error_message
