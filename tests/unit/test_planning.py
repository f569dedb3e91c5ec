"""Planning a due task: which slots run, which are skipped, when it is next due (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.planning import Plan, PlanLimits, SkippedSlot, Slot, plan_task
from taskbeat.models import Task
from taskbeat.status import MisfirePolicy, OverlapPolicy, Trigger
from taskbeat.store.executions import NO_ACTIVE_RUNS, ActiveRuns
from taskbeat.tasks.slots import schedule_of
from taskbeat.tasks.state import TaskState

CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SLOT = CREATED + 10 * MINUTE  # a slot of the default every-minute schedule
GRACE = 60.0


def make_task(**fields: Any) -> Task:
    """A task in memory, every minute from CREATED, due at SLOT, with the API's defaults."""
    values: dict[str, Any] = {
        "name": "report",
        "handler": "echo",
        "schedule": "every 1 minutes",
        "timezone": "UTC",
        "recurring": True,
        "enabled": True,
        "state": TaskState.ACTIVE,
        "run_count": 0,
        "overlap": OverlapPolicy.SKIP,
        "misfire": MisfirePolicy.RUN_ONCE,
        "misfire_grace": GRACE,
        "start_at": None,
        "end_at": None,
        "max_runs": None,
        "created_at": CREATED,
        "updated_at": CREATED,
        "next_run_at": SLOT,
        **fields,
    }
    return Task(**values)


RUNNING = ActiveRuns(in_flight=1)  # a run in progress, none waiting


def plan(
    task: Task,
    now: datetime,
    *,
    active: ActiveRuns = NO_ACTIVE_RUNS,
    run_all_cap: int = 100,
    listed_cap: int = 100,
) -> Plan:
    limits = PlanLimits(run_all_cap=run_all_cap, listed_cap=listed_cap)
    return plan_task(task, schedule_of(task), now, active=active, limits=limits)


def minutes_after_slot(*offsets: int) -> list[datetime]:
    return [SLOT + n * MINUTE for n in offsets]


def run_times(result: Plan) -> list[datetime]:
    return [slot.at for slot in result.run]


def skipped_times(result: Plan) -> list[datetime]:
    return [slot.at for slot in result.skipped]


# --- On time -------------------------------------------------------------------------


@pytest.mark.parametrize("misfire", list(MisfirePolicy))
def test_a_slot_due_now_runs_on_schedule_and_the_task_moves_to_the_next_slot(misfire):
    result = plan(make_task(misfire=misfire), SLOT)
    assert result == Plan(run=[Slot(SLOT, Trigger.SCHEDULE)], skipped=[], next_run_at=SLOT + MINUTE)


@pytest.mark.parametrize("misfire", list(MisfirePolicy))
def test_a_slot_late_by_exactly_the_grace_still_runs_on_schedule(misfire):
    now = SLOT + timedelta(seconds=GRACE)
    result = plan(make_task(misfire=misfire, schedule="every 5 minutes"), now)
    assert result.run == [Slot(SLOT, Trigger.SCHEDULE)]
    assert result.skipped == []
    assert result.next_run_at == SLOT + 5 * MINUTE


def test_the_next_run_is_the_first_fire_time_after_now_not_after_the_slot():
    now = SLOT + timedelta(seconds=59)
    task = make_task(schedule="*/30 * * * * *", next_run_at=SLOT)
    result = plan(task, now)
    assert result.next_run_at == SLOT + MINUTE


def test_a_cron_task_due_now_moves_to_its_next_cron_time():
    slot = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York
    task = make_task(schedule="0 9 * * mon-fri", timezone="America/New_York", next_run_at=slot)
    result = plan(task, slot)
    assert result.run == [Slot(slot, Trigger.SCHEDULE)]
    assert result.next_run_at == slot + timedelta(days=1)


# --- Misfires ------------------------------------------------------------------------


def test_run_once_collapses_many_missed_slots_into_one_catch_up_run():
    now = SLOT + 10 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(misfire=MisfirePolicy.RUN_ONCE), now)
    assert result.run == [Slot(SLOT, Trigger.CATCH_UP)]
    assert result.next_run_at == SLOT + 11 * MINUTE
    # Every other missed slot is in the record, folded into the catch-up.
    assert skipped_times(result) == minutes_after_slot(*range(1, 11))
    assert {skip.coalesced_into for skip in result.skipped} == {SLOT}
    assert {skip.naming(41) for skip in result.skipped} == {
        "coalesced into execution 41 (misfire: run_once)"
    }


def test_past_the_listing_cap_the_last_folded_slot_covers_the_rest():
    now = SLOT + 10 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(), now, listed_cap=3)
    assert skipped_times(result) == minutes_after_slot(1, 2, 3)
    assert result.skipped[-1].naming(41) == (
        "coalesced into execution 41 (misfire: run_once);"
        " so were the slots after it up to 2026-01-05T09:20:05+00:00, not listed one by one"
    )
    assert result.next_run_at == SLOT + 11 * MINUTE


def test_folded_slots_after_end_at_are_not_recorded():
    now = SLOT + 10 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(end_at=SLOT + 2 * MINUTE), now)
    assert run_times(result) == [SLOT]
    assert skipped_times(result) == minutes_after_slot(1, 2)
    assert result.next_run_at is None


def test_no_slot_is_recorded_past_the_run_that_reached_max_runs():
    now = SLOT + 10 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(max_runs=3, run_count=2), now)
    assert run_times(result) == [SLOT]
    assert result.skipped == []
    assert result.next_run_at is None


def test_run_once_just_past_the_grace_is_a_catch_up():
    now = SLOT + timedelta(seconds=GRACE + 1)
    result = plan(make_task(schedule="every 5 minutes"), now)
    assert result.run == [Slot(SLOT, Trigger.CATCH_UP)]


def test_skip_records_each_slot_missed_beyond_the_grace_and_runs_the_one_on_time():
    now = SLOT + 10 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(misfire=MisfirePolicy.SKIP), now)
    assert result.run == [Slot(SLOT + 10 * MINUTE, Trigger.SCHEDULE)]  # 5 s late: on time
    assert skipped_times(result) == minutes_after_slot(*range(10))
    assert result.skipped[0].reason == "missed by 605s (misfire: skip)"
    assert result.skipped[-1].reason == "missed by 65s (misfire: skip)"
    assert result.next_run_at == SLOT + 11 * MINUTE


def test_skip_runs_nothing_when_every_missed_slot_is_late():
    now = SLOT + 10 * MINUTE + timedelta(seconds=GRACE + 5)
    result = plan(make_task(misfire=MisfirePolicy.SKIP, schedule="every 5 minutes"), now)
    assert result.run == []
    assert skipped_times(result) == minutes_after_slot(0, 5, 10)
    assert result.next_run_at == SLOT + 15 * MINUTE


def test_run_all_records_the_slots_past_its_cap():
    now = SLOT + 5 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(misfire=MisfirePolicy.RUN_ALL), now, run_all_cap=3)
    assert skipped_times(result) == minutes_after_slot(3, 4, 5)
    assert result.skipped[0].reason == "more than 3 slots were due at once (misfire: run_all)"


def test_skip_runs_a_slot_late_within_the_grace():
    now = SLOT + timedelta(seconds=30)
    result = plan(make_task(misfire=MisfirePolicy.SKIP), now)
    assert result.run == [Slot(SLOT, Trigger.SCHEDULE)]
    assert result.skipped == []


def test_run_all_runs_each_missed_slot_labelled_by_its_own_lateness():
    now = SLOT + 5 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(misfire=MisfirePolicy.RUN_ALL), now)
    missed = [Slot(at, Trigger.CATCH_UP) for at in minutes_after_slot(0, 1, 2, 3, 4)]
    assert result.run == [*missed, Slot(SLOT + 5 * MINUTE, Trigger.SCHEDULE)]
    assert result.skipped == []
    assert result.next_run_at == SLOT + 6 * MINUTE


def test_run_all_includes_a_slot_falling_exactly_at_now():
    now = SLOT + 3 * MINUTE
    result = plan(make_task(misfire=MisfirePolicy.RUN_ALL), now)
    assert run_times(result) == minutes_after_slot(0, 1, 2, 3)
    assert result.next_run_at == SLOT + 4 * MINUTE


def test_run_all_stops_at_the_cap_and_moves_on_from_now():
    now = SLOT + 5 * MINUTE + timedelta(seconds=5)
    result = plan(make_task(misfire=MisfirePolicy.RUN_ALL), now, run_all_cap=3)
    assert run_times(result) == minutes_after_slot(0, 1, 2)
    assert result.next_run_at == SLOT + 6 * MINUTE


def test_run_all_runs_every_slot_that_fell_due_within_the_grace():
    now = SLOT + timedelta(seconds=30)
    task = make_task(misfire=MisfirePolicy.RUN_ALL, schedule="every 10 seconds")
    result = plan(task, now)
    assert run_times(result) == [SLOT + timedelta(seconds=s) for s in (0, 10, 20, 30)]
    assert result.next_run_at == SLOT + timedelta(seconds=40)


# --- end_at and max_runs -------------------------------------------------------------


def test_end_at_stops_missed_runs_and_the_next_run():
    now = SLOT + 5 * MINUTE + timedelta(seconds=5)
    task = make_task(misfire=MisfirePolicy.RUN_ALL, end_at=SLOT + 2 * MINUTE)
    result = plan(task, now)
    assert run_times(result) == minutes_after_slot(0, 1, 2)
    assert result.next_run_at is None


def test_end_at_between_this_slot_and_the_next_makes_this_the_last_run():
    task = make_task(end_at=SLOT + timedelta(seconds=30))
    result = plan(task, SLOT)
    assert run_times(result) == [SLOT]
    assert result.next_run_at is None


def test_end_at_on_the_next_slot_still_allows_it():
    result = plan(make_task(end_at=SLOT + MINUTE), SLOT)
    assert result.next_run_at == SLOT + MINUTE


def test_a_slot_after_end_at_does_not_run():
    task = make_task(end_at=SLOT - timedelta(seconds=1))
    result = plan(task, SLOT)
    assert result == Plan(run=[], skipped=[], next_run_at=None)


def test_max_runs_stops_missed_runs_and_the_next_run():
    now = SLOT + 5 * MINUTE + timedelta(seconds=5)
    task = make_task(misfire=MisfirePolicy.RUN_ALL, max_runs=10, run_count=8)
    result = plan(task, now)
    assert run_times(result) == minutes_after_slot(0, 1)
    assert result.next_run_at is None


def test_the_run_that_reaches_max_runs_is_the_last():
    result = plan(make_task(max_runs=3, run_count=2), SLOT)
    assert run_times(result) == [SLOT]
    assert result.next_run_at is None


def test_a_run_short_of_max_runs_leaves_a_next_run():
    result = plan(make_task(max_runs=3, run_count=1), SLOT)
    assert run_times(result) == [SLOT]
    assert result.next_run_at == SLOT + MINUTE


def test_a_task_that_already_reached_max_runs_runs_no_more():
    result = plan(make_task(max_runs=3, run_count=3), SLOT)
    assert result == Plan(run=[], skipped=[], next_run_at=None)


# --- Overlap -------------------------------------------------------------------------


def test_overlap_skip_turns_the_slot_into_a_skipped_one_while_a_run_is_active():
    result = plan(make_task(overlap=OverlapPolicy.SKIP), SLOT, active=RUNNING)
    assert result.run == []
    assert result.skipped == [SkippedSlot(SLOT, "the previous run is still active (overlap: skip)")]
    assert result.next_run_at == SLOT + MINUTE


def test_overlap_skip_skips_every_missed_slot_of_run_all_while_a_run_is_active():
    now = SLOT + 2 * MINUTE + timedelta(seconds=5)
    task = make_task(overlap=OverlapPolicy.SKIP, misfire=MisfirePolicy.RUN_ALL)
    result = plan(task, now, active=RUNNING)
    assert result.run == []
    assert skipped_times(result) == minutes_after_slot(0, 1, 2)
    assert result.next_run_at == SLOT + 3 * MINUTE


def test_overlap_skip_runs_when_nothing_is_active():
    result = plan(make_task(overlap=OverlapPolicy.SKIP), SLOT, active=NO_ACTIVE_RUNS)
    assert result.run == [Slot(SLOT, Trigger.SCHEDULE)]
    assert result.skipped == []


def test_overlap_allow_runs_beside_an_active_run():
    result = plan(make_task(overlap=OverlapPolicy.ALLOW), SLOT, active=RUNNING)
    assert result == Plan(run=[Slot(SLOT, Trigger.SCHEDULE)], skipped=[], next_run_at=SLOT + MINUTE)


def test_a_slot_skipped_for_overlap_does_not_use_up_max_runs():
    task = make_task(overlap=OverlapPolicy.SKIP, max_runs=3, run_count=2)
    result = plan(task, SLOT, active=RUNNING)
    assert result.run == []
    assert skipped_times(result) == [SLOT]
    assert result.next_run_at == SLOT + MINUTE


# --- One-time tasks ------------------------------------------------------------------


def one_time_task(**fields: Any) -> Task:
    return make_task(schedule=SLOT.isoformat(), recurring=False, **fields)


def test_a_one_time_task_runs_once_and_is_then_never_due():
    result = plan(one_time_task(), SLOT)
    assert result == Plan(run=[Slot(SLOT, Trigger.SCHEDULE)], skipped=[], next_run_at=None)


def test_a_late_one_time_task_runs_once_as_a_catch_up():
    result = plan(one_time_task(), SLOT + timedelta(days=2))
    assert result == Plan(run=[Slot(SLOT, Trigger.CATCH_UP)], skipped=[], next_run_at=None)


def test_a_late_one_time_task_with_run_all_runs_once():
    result = plan(one_time_task(misfire=MisfirePolicy.RUN_ALL), SLOT + timedelta(days=2))
    assert run_times(result) == [SLOT]
    assert result.next_run_at is None


def test_a_late_one_time_task_with_misfire_skip_is_skipped_and_never_due():
    result = plan(one_time_task(misfire=MisfirePolicy.SKIP), SLOT + timedelta(days=2))
    assert result.run == []
    assert skipped_times(result) == [SLOT]
    assert result.next_run_at is None


def test_a_now_task_runs_at_its_creation_and_is_then_never_due():
    task = make_task(schedule="now", recurring=False, next_run_at=CREATED)
    result = plan(task, CREATED + timedelta(seconds=1))
    assert result == Plan(run=[Slot(CREATED, Trigger.SCHEDULE)], skipped=[], next_run_at=None)


def test_run_all_catch_up_runs_are_dispatched_together_even_with_overlap_skip():
    """Overlap is checked against runs already active: the missed slots run_all brings
    back are released together (run_all asks for every one of them)."""
    now = SLOT + 3 * MINUTE
    task = make_task(misfire=MisfirePolicy.RUN_ALL, overlap=OverlapPolicy.SKIP)
    assert run_times(plan(task, now)) == minutes_after_slot(0, 1, 2, 3)


def test_run_all_with_a_run_still_active_skips_every_missed_slot():
    now = SLOT + 3 * MINUTE
    task = make_task(misfire=MisfirePolicy.RUN_ALL, overlap=OverlapPolicy.SKIP)
    result = plan(task, now, active=RUNNING)
    assert result.run == []
    assert skipped_times(result) == minutes_after_slot(0, 1, 2, 3)


def test_queue_one_runs_the_slot_at_once_when_nothing_is_active():
    result = plan(make_task(overlap=OverlapPolicy.QUEUE_ONE), SLOT)
    assert result.run == [Slot(SLOT, Trigger.SCHEDULE, held=False)]
    assert result.skipped == []


def test_queue_one_holds_one_slot_behind_a_run_in_progress():
    result = plan(make_task(overlap=OverlapPolicy.QUEUE_ONE), SLOT, active=RUNNING)
    assert result.run == [Slot(SLOT, Trigger.SCHEDULE, held=True)]
    assert result.skipped == []


def test_queue_one_skips_a_slot_when_one_is_already_waiting():
    waiting = ActiveRuns(in_flight=1, waiting=1)
    result = plan(make_task(overlap=OverlapPolicy.QUEUE_ONE), SLOT, active=waiting)
    assert result.run == []
    assert [skip.at for skip in result.skipped] == [SLOT]
    assert "queue_one" in result.skipped[0].reason
    assert result.next_run_at == SLOT + MINUTE


def test_queue_one_with_run_all_runs_one_holds_one_and_skips_the_rest():
    task = make_task(overlap=OverlapPolicy.QUEUE_ONE, misfire=MisfirePolicy.RUN_ALL)
    now = SLOT + 3 * MINUTE
    result = plan(task, now)
    assert [(slot.at, slot.held) for slot in result.run] == [(SLOT, False), (SLOT + MINUTE, True)]
    assert [skip.at for skip in result.skipped] == [SLOT + 2 * MINUTE, SLOT + 3 * MINUTE]
