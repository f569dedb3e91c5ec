"""Faults of the scheduler: killed again and again with 1,000 slots due; one of two
frozen with SIGSTOP while its dispatch transaction holds row locks (F3)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, text

from taskbeat.models import Execution
from tests.e2e.harness import Service
from tests.faults.cluster import IDLE_IN_TRANSACTION, LOST_AFTER, Cluster
from tests.faults.conftest import MakeCluster

KILLS = 5
FREEZE = 15.0
# How long a frozen scheduler may keep its tasks from the other one: PostgreSQL ends
# its transaction after the idle-in-transaction bound, and the other scheduler's next
# wake-up (at most 0.5 s away) dispatches them.
TAKEOVER_BOUND = IDLE_IN_TRANSACTION + 2.0


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
    # The frozen scheduler's rows really were held (slots waited about the bound), and
    # no longer than the bound.
    assert IDLE_IN_TRANSACTION - 1.0 <= late <= TAKEOVER_BOUND, (
        f"slots waited {late:.1f}s for the frozen scheduler"
    )


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
                held = _rows_held(connection, c.task_ids)
                if held and connection.execute(_HOLDS_LOCKS, {"backend": backend}).scalar():
                    print(f"froze a scheduler holding {held} of {len(c.task_ids)} task rows")
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


def _rows_held(connection: Connection, task_ids: list[int]) -> int:
    """How many of the tasks' rows another transaction holds locked (row locks are not
    in pg_locks: the rows this one cannot lock, skipping the locked ones)."""
    free = connection.execute(_LOCKABLE, {"ids": task_ids}).scalar_one()
    connection.rollback()
    return len(task_ids) - int(free)


_LOCKABLE = text(
    "SELECT count(*) FROM (SELECT id FROM tasks WHERE id = ANY(:ids) FOR UPDATE SKIP LOCKED) t"
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
    """The longest any task's slot due during the freeze waited for its row, in seconds."""
    with c.sessions() as session:
        rows = session.execute(
            select(Execution.scheduled_for, Execution.created_at).where(
                Execution.task_id.in_(c.task_ids),
                Execution.attempt == 1,
                Execution.manual_run == 0,
            )
        ).all()
    waits = [
        (created - slot).total_seconds()
        for slot, created in rows
        if slot.timestamp() >= frozen_at and created is not None
    ]
    return max(waits, default=0.0)
