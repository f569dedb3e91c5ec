"""The scheduler's wake-up, with a fixed clock, SQLite and a recording publisher."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.dispatch import Dispatcher, _jitter
from taskbeat import store
from taskbeat.executions.lifecycle import Outcome
from taskbeat.models import Execution, Task
from taskbeat.outbox.publisher import RecordingPublisher
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.store.executions import NewExecution
from taskbeat.store.tasks import TaskAdvance
from taskbeat.tasks import operations
from taskbeat.tasks.fields import RunRequest
from taskbeat.tasks.state import TaskState, TaskStatus
from tests.conftest import START, FixedClock
from tests.runs import claimed, reload, settle, status_of


@pytest.fixture
def dispatcher(
    settings: Settings,
    sessions: sessionmaker[Session],
    publisher: RecordingPublisher,
    clock: FixedClock,
) -> Dispatcher:
    return Dispatcher(settings, sessions, publisher, clock)


def executions(sessions: sessionmaker[Session]) -> list[Execution]:
    with sessions() as session:
        return list(session.scalars(select(Execution).order_by(Execution.id)))


def execution_row(task: Task, slot: datetime, now: datetime, **values: Any) -> NewExecution:
    """An execution row as the scheduler writes it."""
    return replace(
        NewExecution(
            task.id, task.name, Trigger.SCHEDULE, slot, slot, ExecutionStatus.SCHEDULED, now
        ),
        **values,
    )


def add_retry(sessions: sessionmaker[Session], task: Task, due_at: datetime, now: datetime) -> None:
    row = execution_row(task, now, now, trigger=Trigger.RETRY, attempt=2, due_at=due_at)
    with sessions.begin() as session:
        store.executions.insert_executions(session, [row])


def test_a_task_not_yet_due_is_left_alone(dispatcher, make_task, publisher, sessions):
    make_task(schedule="every 60 seconds")
    result = dispatcher.tick()
    assert result.published == 0
    assert publisher.messages == []
    assert executions(sessions) == []


def test_a_due_slot_becomes_one_queued_execution_and_the_task_moves_on(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="every 60 seconds", queue="reports", priority=3, timeout=30)
    slot = task.next_run_at
    clock.set(slot)
    result = dispatcher.tick()

    [execution] = executions(sessions)
    assert result.published == 1
    assert execution.scheduled_for == slot
    assert execution.status is ExecutionStatus.QUEUED
    assert execution.trigger is Trigger.SCHEDULE
    assert execution.enqueued_at == clock()
    assert execution.publish_lease_until is None
    [message] = publisher.messages
    assert (message.execution_id, message.queue, message.priority, message.timeout) == (
        execution.id,
        "reports",
        3,
        30,
    )
    task = reload(sessions, task)
    assert task.next_run_at == slot + timedelta(seconds=60)
    assert task.run_count == 1
    assert result.next_due == task.next_run_at


def test_ticking_again_at_the_same_instant_dispatches_nothing_twice(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task()
    clock.set(task.next_run_at)
    dispatcher.tick()
    dispatcher.tick()
    assert len(executions(sessions)) == 1
    assert len(publisher.messages) == 1


def test_when_redis_refuses_the_row_stays_scheduled_and_the_next_tick_publishes_it(
    settings, sessions, clock, make_task
):
    refusing = RecordingPublisher(fail_after=0)
    task = make_task()
    clock.set(task.next_run_at)
    Dispatcher(settings, sessions, refusing, clock).tick()
    [execution] = executions(sessions)
    assert execution.status is ExecutionStatus.SCHEDULED
    # Tried again soon, not at once (a tight loop) nor after the whole lease.
    assert execution.publish_lease_until == clock() + timedelta(
        seconds=settings.publish_retry_after
    )

    working = RecordingPublisher()
    Dispatcher(settings, sessions, working, clock).tick()
    assert working.execution_ids == []
    clock.advance(settings.publish_retry_after + 0.001)
    Dispatcher(settings, sessions, working, clock).tick()
    assert working.execution_ids == [execution.id]
    assert executions(sessions)[0].status is ExecutionStatus.QUEUED


def test_rows_committed_by_a_scheduler_that_died_before_publishing_go_out_after_the_lease(
    dispatcher, make_task, publisher, sessions, clock, settings
):
    task = make_task()
    clock.set(task.next_run_at)
    with sessions.begin() as session:  # what a scheduler that crashed after commit leaves
        [due] = store.tasks.due_tasks(session.connection(), clock(), 10)
        lease = clock() + timedelta(seconds=settings.publish_lease)
        row = execution_row(task, due.next_run_at, clock(), publish_lease_until=lease)
        store.executions.insert_executions(session, [row])
        later = due.next_run_at + timedelta(seconds=60)
        moved = TaskAdvance(due.id, later, 1, None, clock(), due.state)
        store.tasks.advance_tasks(session.connection(), [moved])

    dispatcher.tick()
    assert publisher.messages == []  # another scheduler may still be publishing it
    clock.advance(settings.publish_lease + 1)
    dispatcher.tick()
    assert publisher.execution_ids == [executions(sessions)[0].id]


def test_a_retry_is_published_when_it_falls_due_not_before(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="@daily")
    add_retry(sessions, task, clock() + timedelta(seconds=30), clock())
    assert dispatcher.tick().published == 0
    assert dispatcher.next_due() == clock() + timedelta(seconds=30)
    clock.advance(30)
    assert dispatcher.tick().published == 1


def test_a_paused_tasks_retry_waits_but_a_manual_run_does_not(
    dispatcher, make_task, publisher, sessions, clock, registry
):
    task = make_task(schedule="@daily")
    add_retry(sessions, task, clock(), clock())
    with sessions.begin() as session:
        operations.pause_task(session, task.name, now=clock())
        manual, _ = operations.create_manual_run(
            session, task.name, RunRequest(), registry, now=clock(), lease_until=clock()
        )
    clock.advance(1)
    dispatcher.tick()
    assert publisher.execution_ids == [manual.id]


def test_overlap_skip_records_a_skipped_slot_while_a_run_is_active(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="every 10 seconds")
    clock.set(task.next_run_at)
    dispatcher.tick()  # slot 1 is queued and never finishes
    clock.advance(10)
    dispatcher.tick()
    first, second = executions(sessions)
    assert first.status is ExecutionStatus.QUEUED
    assert second.status is ExecutionStatus.SKIPPED
    assert "overlap" in (second.error_message or "")
    assert len(publisher.messages) == 1


def test_overlap_allow_dispatches_beside_an_active_run(dispatcher, make_task, sessions, clock):
    task = make_task(schedule="every 10 seconds", overlap="allow")
    clock.set(task.next_run_at)
    dispatcher.tick()
    clock.advance(10)
    dispatcher.tick()
    assert [e.status for e in executions(sessions)] == [ExecutionStatus.QUEUED] * 2


def test_queue_one_holds_one_slot_behind_a_running_run_and_publishes_it_when_that_ends(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="every 10 seconds", overlap="queue_one")
    clock.set(task.next_run_at)
    dispatcher.tick()
    [first_id] = publisher.execution_ids
    first = claimed(sessions, first_id, clock())  # a worker runs it, for a long while

    clock.advance(10)
    dispatcher.tick()  # the next slot waits behind it, written but not published
    clock.advance(10)
    dispatcher.tick()  # and one more is skipped: only one may wait
    assert publisher.execution_ids == [first_id]
    rows = executions(sessions)
    assert [r.status for r in rows] == [
        ExecutionStatus.RUNNING, ExecutionStatus.SCHEDULED, ExecutionStatus.SKIPPED
    ]  # fmt: skip
    assert "queue_one" in (rows[2].error_message or "")
    assert dispatcher.next_due() == task.next_run_at + timedelta(seconds=30)  # not the held one

    settle(sessions, first, Outcome(ExecutionStatus.SUCCEEDED), clock())
    dispatcher.tick()
    assert publisher.execution_ids == [first_id, rows[1].id]


def test_after_downtime_run_once_catches_up_with_a_single_run(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="every 60 seconds")
    clock.set(task.next_run_at + timedelta(minutes=3, seconds=10))
    dispatcher.tick()
    execution, *folded = executions(sessions)
    assert execution.trigger is Trigger.CATCH_UP
    assert execution.scheduled_for == task.next_run_at
    assert [message.execution_id for message in publisher.messages] == [execution.id]
    assert reload(sessions, task).next_run_at > clock()
    # The slots folded into it are in the record, each naming the run that covered it.
    assert [(e.scheduled_for - execution.scheduled_for, e.status) for e in folded] == [
        (timedelta(minutes=n), ExecutionStatus.SKIPPED) for n in (1, 2, 3)
    ]
    assert {e.error_message for e in folded} == {
        f"coalesced into execution {execution.id} (misfire: run_once)"
    }


def test_a_long_downtime_records_the_cap_of_folded_slots_and_summarizes_the_rest(
    settings, sessions, publisher, make_task, clock
):
    capped = Dispatcher(
        settings.model_copy(update={"missed_slots_listed": 5}), sessions, publisher, clock
    )
    task = make_task(schedule="every 60 seconds")
    clock.set(task.next_run_at + timedelta(hours=3))
    capped.tick()
    execution, *folded = executions(sessions)
    assert execution.trigger is Trigger.CATCH_UP
    assert len(folded) == 5
    *listed, last = (e.error_message for e in folded)
    assert set(listed) == {f"coalesced into execution {execution.id} (misfire: run_once)"}
    assert last.startswith(f"coalesced into execution {execution.id} (misfire: run_once); ")
    assert "so were the slots after it up to 2026-" in last


def test_a_one_time_task_is_dispatched_once_and_has_no_next_run(
    dispatcher, make_task, publisher, sessions, clock
):
    task = make_task(schedule="now")
    assert task.next_run_at == clock()
    dispatcher.tick()
    clock.advance(3600)
    dispatcher.tick()
    assert len(executions(sessions)) == 1
    assert reload(sessions, task).next_run_at is None


def test_a_full_batch_asks_for_another_tick_at_once(
    settings, sessions, publisher, clock, make_task
):
    for number in range(3):
        make_task(name=f"t{number}", schedule="now")
    small = settings.model_copy(update={"scheduler_batch_size": 2})
    dispatcher = Dispatcher(small, sessions, publisher, clock)
    first = dispatcher.tick()
    second = dispatcher.tick()
    assert (first.more, first.published) == (True, 2)
    assert (second.more, second.published) == (False, 1)


def test_jitter_spreads_slots_and_holds_each_run_until_its_jittered_time(
    dispatcher, make_task, publisher, sessions, clock
):
    for number in range(20):
        make_task(name=f"t{number}", schedule="every 60 seconds", jitter=30)
    slot = START + timedelta(seconds=60)
    clock.set(slot)
    dispatcher.tick()
    delays = [(e.due_at - e.scheduled_for).total_seconds() for e in executions(sessions)]
    assert all(0 <= delay < 30 for delay in delays)
    assert len(set(delays)) > 10, "the delays are not spread"
    published_at_slot = len(publisher.messages)
    assert published_at_slot == delays.count(0.0)
    clock.advance(30)
    dispatcher.tick()
    assert len(publisher.messages) == 20


def test_a_slots_jitter_is_the_same_whichever_scheduler_computes_it(make_task, clock):
    task = make_task(schedule="every 60 seconds", jitter=30)
    slot = task.next_run_at
    assert _jitter(task, slot) == _jitter(task, slot)
    assert _jitter(task, slot) != _jitter(task, slot + timedelta(seconds=60))


def test_a_test_run_does_not_make_a_slot_skip_for_overlap(
    dispatcher, make_task, publisher, sessions, clock, registry
):
    task = make_task(schedule="every 60 seconds")
    with sessions.begin() as session:
        operations.create_manual_run(
            session, task.name, RunRequest(test_mode=True), registry,
            now=clock(), lease_until=clock(),
        )  # fmt: skip
    clock.set(task.next_run_at)
    dispatcher.tick()
    scheduled = [e for e in executions(sessions) if e.trigger is Trigger.SCHEDULE]
    assert [e.status for e in scheduled] == [ExecutionStatus.QUEUED]


def test_a_one_time_task_whose_only_slot_is_skipped_is_failed_not_completed(
    dispatcher, make_task, sessions, clock
):
    task = make_task(schedule="now", misfire="skip", misfire_grace=10)
    clock.advance(60)
    dispatcher.tick()
    [skipped] = executions(sessions)
    assert skipped.status is ExecutionStatus.SKIPPED
    assert status_of(sessions, task.id) is TaskStatus.FAILED


def test_a_recurring_task_whose_last_slot_is_skipped_is_completed(
    dispatcher, make_task, sessions, clock
):
    task = make_task(
        schedule="every 60 seconds", end_at=(START + timedelta(seconds=90)).isoformat(),
        misfire="skip", misfire_grace=10,
    )  # fmt: skip
    clock.set(task.next_run_at + timedelta(seconds=40))
    dispatcher.tick()
    assert status_of(sessions, task.id) is TaskStatus.COMPLETED
    assert reload(sessions, task).next_run_at is None


def test_a_one_time_task_stays_done_when_its_history_is_pruned_and_it_is_resumed(
    dispatcher, make_task, sessions, clock
):
    task = make_task(schedule="now")
    dispatcher.tick()
    with sessions.begin() as session:
        session.execute(delete(Execution))
        operations.pause_task(session, task.name, now=clock())
        resumed = operations.resume_task(session, task.name, now=clock())
        assert resumed.next_run_at is None
    assert reload(sessions, task).last_slot_at == START


def test_a_schedule_that_no_longer_parses_stops_its_task_instead_of_looping(
    dispatcher, make_task, sessions, clock
):
    task = make_task()
    with sessions.begin() as session:
        stored = session.get(Task, task.id)
        stored.timezone = "Mars/Olympus_Mons"
    clock.set(task.next_run_at)
    dispatcher.tick()
    task = reload(sessions, task)
    assert task.next_run_at is None
    assert task.state is TaskState.FAILED


def test_the_unique_key_keeps_a_slot_from_being_inserted_twice(make_task, sessions, clock):
    task = make_task()
    row = execution_row(task, task.next_run_at, clock())
    with sessions.begin() as session:
        first = store.executions.insert_executions(session, [row])
    with sessions.begin() as session:
        second = store.executions.insert_executions(session, [row])
    assert len(first) == 1
    assert second == {}
    assert len(executions(sessions)) == 1
