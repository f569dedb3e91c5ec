"""The body of the Celery task, called as a plain function."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import fakeredis
import pytest
from celery.exceptions import Reject
from sqlalchemy import delete

from scheduler.dispatch import Dispatcher
from taskbeat import store
from taskbeat.celery_app import make_celery
from taskbeat.db import make_engine
from taskbeat.models import Execution, Task
from taskbeat.names import RUN_EXECUTION
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.tasks import operations
from taskbeat.tasks.state import TaskStatus
from tests.runs import WORKER, history, reload, status_of
from workers import execution
from workers.app import RuntimeHolder, create_worker_app, make_runtime
from workers.capture import HANDLER_LOGGER, LineCapture, run_logger
from workers.execution import DatabaseUnavailable, WorkerRuntime, run_execution
from workers.heartbeat import Heartbeats


@pytest.fixture
def runtime(settings, engine, registry, publisher, clock) -> WorkerRuntime:
    return make_runtime(settings, engine, registry, publisher, clock, fakeredis.FakeRedis())


def test_a_successful_run_records_result_logs_duration_and_worker(
    runtime, make_task, run_now, sessions, clock
):
    task = make_task(handler="echo", params={"greeting": "hi"})
    execution = run_now(task)
    status = run_execution(runtime, execution.id, WORKER)

    [done] = history(sessions, task)
    assert status is ExecutionStatus.SUCCEEDED
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.result["params"] == {"greeting": "hi"}
    assert done.worker == WORKER
    assert done.started_at == clock() and done.finished_at == clock()
    assert done.duration == 0.0
    assert any("echo for task attempt 1" in line for line in done.logs)
    assert status_of(sessions, task.id) is TaskStatus.ACTIVE
    task = reload(sessions, task)
    assert task.last_run_at == clock()


def test_a_second_message_for_the_same_execution_runs_nothing(
    runtime, make_task, run_now, sessions
):
    task = make_task(handler="fail-n-times", params={"failures": 1}, max_retries=3)
    execution = run_now(task)
    assert run_execution(runtime, execution.id, WORKER) is ExecutionStatus.FAILED
    assert run_execution(runtime, execution.id, "other@host:2") is None
    rows = history(sessions, task)
    assert [(r.attempt, r.status) for r in rows] == [
        (1, ExecutionStatus.FAILED),
        (2, ExecutionStatus.SCHEDULED),
    ]
    assert rows[0].worker == WORKER


def test_a_failure_with_retries_left_adds_the_next_attempt_after_the_backoff(
    runtime, make_task, run_now, sessions, clock, publisher
):
    task = make_task(handler="fail-n-times", params={"failures": 5}, max_retries=3, retry_delay=10)
    first = run_now(task)
    run_execution(runtime, first.id, WORKER)
    failed, retry = history(sessions, task)

    assert failed.status is ExecutionStatus.FAILED
    assert failed.error_type == "RetryableError"
    assert "planned failure (attempt 1)" in failed.error_message
    assert "Traceback" in failed.error_traceback
    assert retry.trigger is Trigger.RETRY
    assert retry.attempt == 2
    assert retry.scheduled_for == failed.scheduled_for  # a retry keeps its slot
    assert retry.due_at == clock() + timedelta(seconds=10)
    assert retry.status is ExecutionStatus.SCHEDULED
    assert publisher.wakeups == 1
    assert status_of(sessions, task.id) is TaskStatus.RETRY_SCHEDULED
    task = reload(sessions, task)
    assert task.retry_count == 1


def test_backoff_doubles_until_retries_run_out_then_the_task_is_failed(
    runtime, make_task, run_now, sessions, clock
):
    task = make_task(handler="fail-n-times", params={"failures": 9}, max_retries=3, retry_delay=5)
    next_id = run_now(task).id
    delays = []
    for _ in range(4):
        run_execution(runtime, next_id, WORKER)
        pending = [e for e in history(sessions, task) if e.status is ExecutionStatus.SCHEDULED]
        if not pending:
            break
        delays.append((pending[0].due_at - clock()).total_seconds())
        clock.set(pending[0].due_at)
        next_id = pending[0].id

    assert delays == [5, 10, 20]
    rows = history(sessions, task)
    assert [(r.attempt, r.status) for r in rows] == [
        (n, ExecutionStatus.FAILED) for n in (1, 2, 3, 4)
    ]
    assert status_of(sessions, task.id) is TaskStatus.FAILED
    task = reload(sessions, task)
    assert task.consecutive_failures == 1


def test_a_one_time_task_that_succeeds_is_completed(runtime, make_task, sessions, clock):
    task = make_task(handler="echo", schedule="now")
    with sessions.begin() as session:  # what the scheduler does when the slot comes
        stored = session.get(Task, task.id)
        stored.next_run_at = None
        execution = Execution(
            task_id=task.id,
            task_name=task.name,
            trigger=Trigger.SCHEDULE,
            scheduled_for=clock(),
            attempt=1,
            due_at=clock(),
            status=ExecutionStatus.QUEUED,
            created_at=clock(),
        )
        session.add(execution)
    run_execution(runtime, execution.id, WORKER)
    assert status_of(sessions, task.id) is TaskStatus.COMPLETED


@pytest.mark.parametrize(
    ("handler_name", "error_type", "retried"),
    [
        ("report-failure", "HandlerReportedFailure", True),
        ("fail-permanently", "PermanentError", False),
    ],
)
def test_success_false_is_a_failure_and_a_permanent_error_is_not_retried(
    runtime, make_task, run_now, sessions, handler_name, error_type, retried
):
    task = make_task(handler=handler_name, max_retries=2)
    run_execution(runtime, run_now(task).id, WORKER)
    rows = history(sessions, task)
    assert rows[0].status is ExecutionStatus.FAILED
    assert rows[0].error_type == error_type
    assert (len(rows) == 2) is retried


def test_a_handler_can_set_its_own_retry_delay(runtime, make_task, run_now, sessions, clock):
    task = make_task(handler="retry-later", max_retries=1, retry_delay=1000)
    run_execution(runtime, run_now(task).id, WORKER)
    _, retry = history(sessions, task)
    assert retry.due_at == clock() + timedelta(seconds=7)


def test_an_async_handler_is_awaited(runtime, make_task, run_now, sessions):
    task = make_task(handler="async-echo", params={"n": 1})
    run_execution(runtime, run_now(task).id, WORKER)
    [done] = history(sessions, task)
    assert done.result == {"async": True, "params": {"n": 1}}


def test_a_soft_time_limit_is_recorded_as_timed_out_and_retried(
    runtime, make_task, run_now, sessions
):
    task = make_task(handler="hit-time-limit", max_retries=1)
    run_execution(runtime, run_now(task).id, WORKER)
    timed_out, retry = history(sessions, task)
    assert timed_out.status is ExecutionStatus.TIMED_OUT
    assert retry.attempt == 2


def test_a_handler_no_longer_registered_fails_without_retry(runtime, make_task, run_now, sessions):
    task = make_task(handler="echo", max_retries=3)
    execution = run_now(task)
    with sessions.begin() as session:
        session.get(Task, task.id).handler = "gone"
    run_execution(runtime, execution.id, WORKER)
    [failed] = history(sessions, task)
    assert failed.error_type == "HandlerNotFound"


def test_params_overridden_by_run_now_are_validated_and_used(runtime, make_task, run_now, sessions):
    task = make_task(handler="needs-count", params={"count": 1})
    run_execution(runtime, run_now(task, params={"count": 4}).id, WORKER)
    [done] = history(sessions, task)
    assert done.result["count"] == 4


def test_the_context_carries_slot_periodicity_count_and_last_execution(
    runtime, make_task, run_now, sessions, settings, publisher, clock
):
    task = make_task(handler="needs-count", params={"count": 2}, schedule="*/5 * * * *")
    clock.set(task.next_run_at)
    Dispatcher(settings, sessions, publisher, clock).tick()
    [scheduled_id] = publisher.execution_ids
    run_execution(runtime, scheduled_id, WORKER)
    manual = run_now(task)
    run_execution(runtime, manual.id, WORKER)

    first, second = history(sessions, task)
    assert first.result["scheduled_at"] == task.next_run_at.isoformat()
    assert first.result["execution_count"] == 1  # the slot just dispatched
    assert first.result["last_execution"] is None
    assert second.result["execution_count"] == 1  # a manual run is not a slot
    assert second.result["last_execution"]["id"] == first.id
    assert second.result["last_execution"]["status"] == "succeeded"
    assert second.result["periodicity"] == "*/5 * * * *"
    assert second.result["scheduled_at"] == manual.scheduled_for.isoformat()


def test_a_test_mode_run_leaves_the_task_untouched(runtime, make_task, run_now, sessions):
    task = make_task(handler="fail-n-times", params={"failures": 1}, max_retries=2)
    run_execution(runtime, run_now(task, test_mode=True).id, WORKER)
    [failed] = history(sessions, task)
    assert failed.test_mode is True
    stored = reload(sessions, task)
    assert (status_of(sessions, task.id), stored.consecutive_failures, stored.last_run_at) == (
        TaskStatus.ACTIVE,
        0,
        None,
    )


def test_big_results_and_long_logs_are_capped(
    settings, engine, sessions, registry, publisher, clock, make_task, run_now
):
    small = settings.model_copy(update={"result_max_bytes": 1024, "log_max_lines": 5})
    runtime = make_runtime(small, engine, registry, publisher, clock, fakeredis.FakeRedis())
    task = make_task(handler="chatty", params={"lines": 50, "size": 100_000})
    run_execution(runtime, run_now(task).id, WORKER)
    [done] = history(sessions, task)
    assert done.result["truncated"] is True
    assert done.result["size"] > 100_000
    assert len(done.logs) == 6
    assert done.logs[-1] == "... 45 more lines dropped"


def test_deleting_a_task_cancels_its_queued_run_so_the_message_runs_nothing(
    runtime, make_task, run_now, sessions, clock
):
    task = make_task(handler="echo")
    execution = run_now(task)
    with sessions.begin() as session:
        operations.delete_task(session, task.name, now=clock())
    assert run_execution(runtime, execution.id, WORKER) is None
    with sessions() as session:
        assert (
            store.executions.get_execution(session, execution.id).status
            is ExecutionStatus.CANCELLED
        )


def test_a_run_whose_task_row_vanished_fails_without_retry(runtime, make_task, run_now, sessions):
    """An operator deleting rows by hand leaves a queued run without a task."""
    task = make_task(handler="echo", max_retries=3)
    execution = run_now(task)
    with sessions.begin() as session:
        session.execute(delete(Task).where(Task.id == task.id))
    assert run_execution(runtime, execution.id, WORKER) is ExecutionStatus.FAILED
    with sessions() as session:
        failed = store.executions.get_execution(session, execution.id)
    assert failed.error_type == "TaskDeleted"


def test_a_database_that_is_down_hands_the_message_back(settings, registry, publisher, clock):
    broken = settings.model_copy(update={"database_url": "sqlite:////nonexistent/dir/x.db"})
    engine = make_engine(broken.database_url)
    try:
        runtime = make_runtime(broken, engine, registry, publisher, clock, fakeredis.FakeRedis())
        with pytest.raises(DatabaseUnavailable):
            run_execution(runtime, 1, WORKER)
    finally:
        engine.dispose()


def test_the_celery_task_rejects_with_requeue_when_the_database_is_down(settings, registry):
    broken = settings.model_copy(
        update={"database_url": "sqlite:////nonexistent/dir/x.db", "worker_requeue_pause": 0.001}
    )
    app = create_worker_app(broken, registry)
    with pytest.raises(Reject) as rejected:
        app.tasks[RUN_EXECUTION].run(1)
    assert rejected.value.requeue is True


def test_values_json_and_postgresql_cannot_hold_are_stored_as_text(
    runtime, make_task, run_now, sessions
):
    task = make_task(handler="odd-values")
    run_execution(runtime, run_now(task).id, WORKER)
    [failed] = history(sessions, task)
    assert failed.result is None
    assert failed.error_message == "bad \\x00 byte"
    assert "\x00" not in "".join(failed.logs)
    task = make_task(name="nan", handler="odd-values", params={"return": True})
    run_execution(runtime, run_now(task).id, WORKER)
    [done] = history(sessions, task)
    assert done.result == {"ratio": "NaN", "big": "Infinity", "text": "a\\x00b"}


def test_a_handlers_own_retry_delay_is_held_to_a_week(runtime, make_task, run_now, sessions, clock):
    task = make_task(handler="retry-later", max_retries=1, params={"after": "inf"})
    run_execution(runtime, run_now(task).id, WORKER)
    _, retry = history(sessions, task)
    assert retry.due_at == clock() + timedelta(days=7)


def test_a_runs_lines_are_all_kept_and_reach_the_worker_log_at_its_level_only(caplog):
    capture = LineCapture(max_lines=10)
    logger = run_logger("echo", capture)
    worker_log = logging.getLogger(HANDLER_LOGGER)
    before = worker_log.level
    worker_log.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.DEBUG):
            logger.debug("detail")
            logger.warning("trouble")
    finally:
        worker_log.setLevel(before)
    assert [line.split(" ", 3)[-1] for line in capture.result_lines()] == ["detail", "trouble"]
    assert [record.getMessage() for record in caplog.records] == ["trouble"]


def test_a_queue_one_run_that_ends_wakes_the_scheduler_for_the_run_waiting_behind_it(
    runtime, make_task, run_now, publisher
):
    task = make_task(handler="echo", overlap="queue_one")
    run_execution(runtime, run_now(task).id, WORKER)
    assert publisher.wakeups == 1
    other = make_task(name="plain", handler="echo")
    run_execution(runtime, run_now(other).id, WORKER)
    assert publisher.wakeups == 1  # a success with nothing waiting wakes nobody


def test_a_first_run_behind_a_warm_up_that_cannot_connect_waits_only_for_the_connect_timeout(
    settings, registry
):
    """A database that accepts connections and never answers: the warm-up gives up after
    the connect timeout, and the first run, which waited for it, tries on its own and
    hands its message back, instead of waiting out the pool's 30 s for a connection the
    warm-up never opened."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        url = f"postgresql://taskbeat@127.0.0.1:{port}/taskbeat"
        holder = RuntimeHolder(
            settings.model_copy(update={"database_url": url, "db_connect_timeout": 2.0}),
            registry,
            make_celery(settings),
        )
        started = time.monotonic()
        holder.warm_up()
        time.sleep(0.2)  # the warm-up is connecting
        with pytest.raises(DatabaseUnavailable):
            run_execution(holder.get(), 1, WORKER)
        assert time.monotonic() - started < 15
        holder.close()


@pytest.mark.parametrize(("handler", "params"), [("echo", {}), ("fail-n-times", {"failures": 1})])
def test_a_heartbeat_right_after_the_workers_own_outcome_write_does_not_end_the_process(
    runtime, monkeypatch, make_task, run_now, handler, params
):
    # The run is still watched, and no longer `running`: settled by this worker itself.
    reasons: list[str] = []
    heartbeats = Heartbeats(runtime.engine, fakeredis.FakeRedis(), runtime.settings,
                            runtime.clock, reasons.append)  # fmt: skip
    watched = replace(runtime, heartbeats=heartbeats)
    write = execution._write

    def write_then_stamp(*args: Any) -> tuple[bool, bool]:
        written = write(*args)
        heartbeats.stamp()  # the heartbeat thread's turn, before the watch ends
        return written

    monkeypatch.setattr(execution, "_write", write_then_stamp)
    task = make_task(handler=handler, params=params, max_retries=2)
    run_execution(watched, run_now(task).id, WORKER)
    assert reasons == []
