"""Faults of the worker: its pool child or main process killed, stopped warm and cold,
frozen whole past lost_after, a handler that kills its process, a handler that overruns
its timeout."""

from __future__ import annotations

import os
import signal
import time

from taskbeat.status import ExecutionStatus
from tests.faults.cluster import LOST_AFTER
from tests.faults.conftest import MakeCluster


def test_pool_child_killed_mid_run_is_retried_once_and_nothing_doubles(cluster: MakeCluster):
    with cluster("pool-child-kill") as c:
        c.scheduler()
        c.worker(concurrency=2)
        c.add_tasks(3, "every 1 seconds", lead=1, window=8, sleep=0.2)
        long = c.add_tasks(1, "every 2 seconds", lead=1, window=8, sleep=1.5,
                           max_retries=2, retry_delay=0.5)  # fmt: skip
        os.kill(c.running_probe(long), signal.SIGKILL)
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 15)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


def test_worker_main_process_killed_then_restarted_loses_and_doubles_nothing(
    cluster: MakeCluster,
):
    with cluster("worker-main-kill") as c:
        c.scheduler()
        worker = c.worker(concurrency=2)
        c.add_tasks(3, "every 1 seconds", lead=1, window=8, sleep=0.2)
        long = c.add_tasks(1, "every 2 seconds", lead=1, window=8, sleep=1.5,
                           max_retries=2, retry_delay=0.5)  # fmt: skip
        c.running_probe(long)
        os.kill(worker.process.pid, signal.SIGKILL)
        c.worker(concurrency=2)  # what a supervisor does
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 15)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


def test_a_worker_frozen_whole_past_lost_after_does_not_run_a_slot_twice(cluster: MakeCluster):
    # SIGSTOP of the worker and its pool processes: the sweeper declares the long run
    # lost and retries it elsewhere; on SIGCONT the frozen process must end before its
    # handler goes on beside the retry.
    with cluster("worker-frozen") as c:
        c.scheduler()
        c.worker(concurrency=2)
        c.worker(concurrency=2)
        # Long runs only: a process frozen between a handler's end and its outcome write
        # cannot help its run being retried (the handler then runs twice, as after a
        # crash there); a freeze mid-handler is the case at hand.
        long = c.add_tasks(2, "every 10 seconds", lead=1, window=14, sleep=6,
                           max_retries=2, retry_delay=0.5)  # fmt: skip
        worker = os.getpgid(c.running_probe(long))  # each worker is a process group
        os.killpg(worker, signal.SIGSTOP)
        time.sleep(3 * LOST_AFTER)
        os.killpg(worker, signal.SIGCONT)
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 30)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


def test_sigterm_finishes_the_long_run_and_sigquit_loses_and_doubles_nothing(
    cluster: MakeCluster,
):
    with cluster("sigterm-sigquit") as c:
        c.scheduler()
        first = c.worker(concurrency=2)
        long = c.add_tasks(2, "every 2 seconds", lead=1, window=10, sleep=2.5,
                           max_retries=2, retry_delay=0.5)  # fmt: skip
        c.running_probe(long)
        assert first.stop(signal.SIGTERM, timeout=20) == 0  # warm: the run finishes first
        second = c.worker(concurrency=2)
        c.running_probe(long)
        os.kill(second.process.pid, signal.SIGQUIT)  # cold: the run is cut short
        second.wait(timeout=20)
        c.worker(concurrency=2)
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 15)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


def test_poison_handler_stops_at_the_retry_cap_as_failed_with_the_reason(cluster: MakeCluster):
    with cluster("poison") as c:
        c.scheduler()
        c.worker(concurrency=2)
        poison = c.add_tasks(1, "every 2 seconds", lead=1, window=2, mode="exit",
                             max_retries=1, retry_delay=0.5)  # fmt: skip
        fault_end = time.time()
        c.settle(timeout=3 * (LOST_AFTER + 5))
        verdict = c.audit(fault_end)
        finals = c.finals(poison)
    assert not verdict.problems, "\n".join(verdict.problems)
    ran = [row for row in finals if row.status != ExecutionStatus.SKIPPED]
    assert ran, "the poison task never ran"
    for row in ran:
        assert (row.status, row.attempt) == (ExecutionStatus.FAILED, 2), row.status
        assert row.error_message, "a poison run ends failed with the reason"


def test_handler_past_its_timeout_is_stopped_and_ends_timed_out(cluster: MakeCluster):
    with cluster("timeout") as c:
        c.scheduler()
        c.worker(concurrency=2)
        slow = c.add_tasks(1, "every 2 seconds", lead=1, window=4, mode="overrun", sleep=8,
                           timeout=1, max_retries=1, retry_delay=0.3)  # fmt: skip
        fault_end = time.time()
        c.settle(timeout=20)
        verdict = c.audit(fault_end)
        finals = c.finals(slow)
    assert not verdict.problems, "\n".join(verdict.problems)
    ran = [row for row in finals if row.status != ExecutionStatus.SKIPPED]
    assert ran and all(row.status == ExecutionStatus.TIMED_OUT for row in ran), finals
