"""Heartbeats, and the running executions whose worker went quiet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from taskbeat.models import Execution, Task
from taskbeat.status import ExecutionStatus
from taskbeat.store.runs import RUNNING_COLUMNS, RunningExecution
from taskbeat.store.sql import Executor, id_in


@dataclass(frozen=True)
class QuietRun:
    """A running execution with no heartbeat lately, and its task's time limit."""

    execution: RunningExecution
    heartbeat_at: datetime | None
    timeout: float | None


def stale_running(db: Executor, heartbeat_before: datetime, limit: int) -> list[QuietRun]:
    """Running executions whose heartbeat is older than `heartbeat_before`, oldest first.

    Not locked here: each is then settled by a compare-and-set.
    """
    query = (
        select(*RUNNING_COLUMNS, Execution.heartbeat_at, Task.timeout)
        .outerjoin(Task, Task.id == Execution.task_id)
        .where(
            Execution.status == ExecutionStatus.RUNNING,
            Execution.heartbeat_at < heartbeat_before,
        )
        .order_by(Execution.heartbeat_at)
        .limit(limit)
    )
    count = len(RUNNING_COLUMNS)
    return [
        QuietRun(RunningExecution(*row[:count]), heartbeat_at=row[count], timeout=row[count + 1])
        for row in db.execute(query)
    ]


def still_quiet(db: Executor, execution_id: int, heartbeat_before: datetime) -> bool:
    """Whether the execution is still `running` with a heartbeat older than
    `heartbeat_before`, its row locked until the transaction ends: a heartbeat stamped
    since the sweep read it (the worker was slow, not gone) keeps it alive."""
    query = (
        select(Execution.id)
        .where(
            Execution.id == execution_id,
            Execution.status == ExecutionStatus.RUNNING,
            Execution.heartbeat_at < heartbeat_before,
        )
        .with_for_update()
    )
    return db.execute(query).first() is not None


def held_by(db: Executor, execution_id: int, worker: str) -> RunningExecution | None:
    """The execution, if it is `running` in `worker`'s hands."""
    row = db.execute(
        select(*RUNNING_COLUMNS).where(
            Execution.id == execution_id,
            Execution.status == ExecutionStatus.RUNNING,
            Execution.worker == worker,
        )
    ).first()
    return None if row is None else RunningExecution(*row)


def touch_heartbeats(db: Executor, execution_ids: Sequence[int], now: datetime) -> set[int]:
    """Stamp these running executions; the ids that were still running."""
    if not execution_ids:
        return set()
    result = db.execute(
        update(Execution)
        .where(
            id_in(Execution.id, execution_ids, db),
            Execution.status == ExecutionStatus.RUNNING,
        )
        .values(heartbeat_at=now)
        .returning(Execution.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())
