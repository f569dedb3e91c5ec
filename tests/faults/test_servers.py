"""Faults of the servers: Redis restarted empty (under one worker, and under two with
runs in flight) and Redis down, PostgreSQL backends cut (F1) and PostgreSQL stopped while
a handler runs (F2)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from bench.servers import PostgresServer
from taskbeat.db import normalize_url
from taskbeat.models import Execution
from taskbeat.status import ExecutionStatus
from tests.e2e.harness import wait_until
from tests.faults.cluster import LOST_AFTER, Cluster
from tests.faults.conftest import MakeCluster

REDIS_OUTAGE = 30.0  # the figure: longer than every reconnect backoff of Celery's
POSTGRES_OUTAGE = 2 * LOST_AFTER + 1


def test_redis_restarted_empty_with_work_queued_running_and_retry_scheduled(
    cluster: MakeCluster,
):
    with cluster("redis-restart") as c:
        c.scheduler()
        c.worker(concurrency=1)  # a backlog: four runs of 0.4 s due every second
        busy = c.add_tasks(4, "every 1 seconds", lead=1, window=8, sleep=0.4)
        c.add_tasks(2, "every 2 seconds", lead=1, window=8, mode="fail",
                    max_retries=2, retry_delay=2)  # fmt: skip
        waiting_retry = (Execution.status == ExecutionStatus.SCHEDULED, Execution.attempt > 1)
        wait_until(lambda: c.count(*waiting_retry), 20, "a retry to be scheduled")
        wait_until(lambda: c.count(Execution.status == ExecutionStatus.QUEUED), 20, "a backlog")
        c.running_probe(busy)
        c.redis.stop()
        c.redis.start()
        fault_end = time.time()
        c.settle(timeout=25)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


def test_redis_restarted_under_two_workers_with_runs_in_flight_keeps_both_consuming(
    cluster: MakeCluster,
):
    # Closing the lost connection gives back each worker's run in flight; kombu's
    # AttributeError there once ended both workers with exit code 0.
    with cluster("redis-restart-two-workers") as c:
        c.scheduler()
        workers = [c.worker(concurrency=2), c.worker(concurrency=2)]
        long = c.add_tasks(2, "every 60 seconds", lead=1, window=2, sleep=10,
                           max_retries=2, retry_delay=0.5)  # fmt: skip
        c.add_tasks(4, "every 2 seconds", lead=1, window=20, sleep=0.05)
        c.running_probe(long)
        time.sleep(1)
        c.redis.stop()
        time.sleep(2)
        c.redis.start()
        fault_end = time.time()
        c.settle(timeout=40)
        exited = [w.name for w in workers if w.process.poll() is not None]
        verdict = c.audit(fault_end)
    assert not exited, f"{exited} exited after Redis came back"
    assert not verdict.problems, "\n".join(verdict.problems)


@pytest.mark.timeout(240)
def test_redis_down_for_thirty_seconds_loses_and_doubles_nothing(cluster: MakeCluster):
    with cluster("redis-down") as c:
        c.scheduler()
        c.worker(concurrency=2)
        c.add_tasks(3, "every 2 seconds", lead=1, window=REDIS_OUTAGE + 8, sleep=0.3)
        long = c.add_tasks(1, "every 5 seconds", lead=1, window=REDIS_OUTAGE + 8, sleep=3,
                           max_retries=1, retry_delay=0.5)  # fmt: skip
        in_flight = c.running_attempt(long)
        c.redis.stop()
        time.sleep(REDIS_OUTAGE)
        c.redis.start()
        fault_end = time.time()
        c.settle(timeout=30)
        verdict = c.audit(fault_end)
        finished = c.attempt(in_flight.execution).done
    assert not verdict.problems, "\n".join(verdict.problems)
    assert finished, "the run in flight when Redis went away was cut short"


def test_postgres_backends_terminated_during_dispatch_and_outcome_writes(
    cluster: MakeCluster,
):
    with cluster("pg-terminate") as c:
        c.scheduler()
        c.worker(concurrency=2)
        c.add_tasks(8, "every 1 seconds", lead=1, window=10, sleep=0.1)
        cut = _terminate_backends_mid_statement(c)
        fault_end = max(at for _, _, at in cut)  # the last cut
        c.settle(timeout=LOST_AFTER + 15)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)
    # The fault really happened where it matters (otherwise the check above proves little).
    assert any(kind == "taskbeat-scheduler" for kind, _, _ in cut), cut
    assert any(kind == "taskbeat-worker" and "finished" in query for kind, query, _ in cut), cut


# Connections inside a statement or a transaction: the scheduler's dispatch, and the
# worker's outcome write (the statement whose CTE is named `finished`).
_CUT_DISPATCH = text(
    "SELECT application_name, query, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :db AND application_name = 'taskbeat-scheduler' AND state <> 'idle'"
)
_CUT_OUTCOME = text(
    "SELECT application_name, query, pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :db AND application_name = 'taskbeat-worker' AND state <> 'idle' "
    "AND query LIKE '%finished%'"
)


def _terminate_backends_mid_statement(
    c: Cluster, pause: float = 1.0
) -> list[tuple[str, str, float]]:
    """Until the window ends, cut the scheduler's connection inside its dispatch and the
    worker's inside an outcome write, each at most once every `pause` seconds (so the
    cluster makes progress in between); what was cut (process kind, statement, when)."""
    url = normalize_url(c.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    cut: list[tuple[str, str, float]] = []
    last_cut = {_CUT_DISPATCH: 0.0, _CUT_OUTCOME: 0.0}
    try:
        with admin.connect() as connection:
            while time.time() < c.window_end.timestamp():
                for statement, at in last_cut.items():
                    if time.time() - at < pause:
                        continue
                    found = connection.execute(statement, {"db": url.database}).all()
                    cut += [(kind, query, time.time()) for kind, query, _ in found]
                    last_cut[statement] = time.time() if found else at
                time.sleep(0.002)
    finally:
        admin.dispose()
    return cut


@pytest.mark.timeout(180)
def test_postgres_stopped_longer_than_lost_after_runs_no_slot_twice(
    cluster: MakeCluster, own_postgres: PostgresServer
):
    with cluster("pg-stopped", own_postgres) as c:
        c.scheduler()
        c.worker(concurrency=3)
        c.add_tasks(2, "every 1 seconds", lead=1, window=16, sleep=0.5)  # finish while down
        long = c.add_tasks(1, "every 60 seconds", lead=1, window=16, sleep=POSTGRES_OUTAGE + 4,
                           max_retries=1, retry_delay=0.5)  # fmt: skip
        c.running_probe(long)
        own_postgres.stop()
        time.sleep(POSTGRES_OUTAGE)
        own_postgres.start()
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 20)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)
