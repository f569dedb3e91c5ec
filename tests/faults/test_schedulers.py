"""Faults of the scheduler: killed again and again with 1,000 slots due; one of two
frozen with SIGSTOP while its dispatch transaction holds row locks (F3)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from taskbeat.models import Execution
from tests.e2e.harness import Service
from tests.faults.cluster import LOST_AFTER, Cluster
from tests.faults.conftest import MakeCluster

KILLS = 5
FREEZE = 15.0
# How long a frozen scheduler may keep its tasks from the other one: the scheduler's
# transaction bounds (F3) must release its locks within this.
TAKEOVER_BOUND = 10.0


@pytest.mark.timeout(180)
def test_scheduler_killed_repeatedly_with_1000_slots_due(cluster: MakeCluster):
    with cluster("scheduler-kill") as c:
        c.worker(concurrency=2)
        c.add_tasks(1000, "every 60 seconds", lead=1, window=1)
        for _ in range(KILLS):
            scheduler = c.scheduler()
            _until_dispatching(c, at_most=2.5)
            os.kill(scheduler.process.pid, signal.SIGKILL)
            scheduler.wait(timeout=10)
        c.scheduler()
        fault_end = time.time()
        c.settle(timeout=90)
        verdict = c.audit(fault_end)
    assert not verdict.problems, "\n".join(verdict.problems)


@pytest.mark.timeout(180)
def test_frozen_scheduler_holding_locks_is_taken_over_within_the_bound(cluster: MakeCluster):
    with cluster("scheduler-frozen") as c:
        c.worker(concurrency=2)
        schedulers = [c.scheduler(), c.scheduler()]
        c.add_tasks(30, "every 1 seconds", lead=1, window=FREEZE + 6)
        frozen, frozen_at = _freeze_inside_transaction(c, schedulers)
        time.sleep(FREEZE)
        os.kill(frozen.process.pid, signal.SIGCONT)
        fault_end = time.time()
        c.settle(timeout=LOST_AFTER + 15)
        verdict = c.audit(fault_end)
        late = _latest_dispatch(c, frozen_at)
    assert not verdict.problems, "\n".join(verdict.problems)
    assert late <= TAKEOVER_BOUND, f"slots waited {late:.1f}s for the frozen scheduler"


def _until_dispatching(c: Cluster, at_most: float) -> None:
    """Until the scheduler just started writes rows, or `at_most` seconds (once every
    slot has its row, a later scheduler is killed while it publishes or sweeps)."""
    before, deadline = c.count(), time.monotonic() + at_most
    while c.count() == before and time.monotonic() < deadline:
        time.sleep(0.02)


def _freeze_inside_transaction(c: Cluster, schedulers: list[Service]) -> tuple[Service, float]:
    """SIGSTOP a scheduler while its transaction holds locks on task rows."""
    deadline = time.monotonic() + 20
    with c.engine.connect() as connection:
        while time.monotonic() < deadline:
            for backend, port in connection.execute(_LOCKING_SCHEDULERS).all():
                owner = next((s for s in schedulers if _owns_port(s.process.pid, port)), None)
                if owner is None:
                    continue
                os.kill(owner.process.pid, signal.SIGSTOP)
                connection.rollback()
                if connection.execute(_HOLDS_LOCKS, {"backend": backend}).scalar():
                    return owner, time.time()
                os.kill(owner.process.pid, signal.SIGCONT)  # it had just committed
            connection.rollback()
            time.sleep(0.002)
    raise AssertionError("never caught a scheduler inside its dispatch transaction")


_LOCKING_SCHEDULERS = text(
    "SELECT a.pid, a.client_port FROM pg_stat_activity a "
    "WHERE a.datname = current_database() AND a.application_name = 'taskbeat-scheduler' "
    "AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
    "AND l.relation = 'tasks'::regclass AND l.mode = 'RowShareLock')"
)
_HOLDS_LOCKS = text(
    "SELECT count(*) FROM pg_locks WHERE pid = :backend AND relation = 'tasks'::regclass "
    "AND mode = 'RowShareLock'"
)


def _owns_port(pid: int, port: int) -> bool:
    """Whether the process has the TCP socket whose local port is `port` (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inodes.add(fields[9])
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _latest_dispatch(c: Cluster, frozen_at: float) -> float:
    """The longest any slot due during the freeze waited for its row, in seconds."""
    with c.sessions() as session:
        rows = session.execute(
            select(Execution.scheduled_for, func.min(Execution.created_at))
            .where(Execution.task_id.in_(c.task_ids), Execution.attempt == 1)
            .group_by(Execution.scheduled_for)
        ).all()
    waits = [
        (created - slot).total_seconds()
        for slot, created in rows
        if slot.timestamp() >= frozen_at and created is not None
    ]
    return max(waits, default=0.0)
