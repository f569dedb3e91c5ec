"""Claiming and settling executions in tests, through the same core calls the worker and
the sweeper make (the worker's own body is tested as a plain function in test_worker)."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from taskbeat import store
from taskbeat.db import engine_of, one_statement
from taskbeat.executions.lifecycle import Outcome, Recorded, record_failure, record_success
from taskbeat.models import Execution, Task
from taskbeat.store import runs
from taskbeat.store.runs import Claim, RunningExecution
from taskbeat.tasks.state import TaskStatus, task_status

WORKER = "test@host:1"


def claim(
    sessions: sessionmaker[Session], execution_id: int, now: datetime, worker: str = WORKER
) -> Claim | None:
    with one_statement(engine_of(sessions)) as connection:
        return runs.claim(connection, execution_id, worker, now)


def claimed(sessions: sessionmaker[Session], execution_id: int, now: datetime) -> RunningExecution:
    found = claim(sessions, execution_id, now)
    assert found is not None, f"execution {execution_id} could not be claimed"
    return found.execution


def settle(
    sessions: sessionmaker[Session],
    run: RunningExecution,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> Recorded | None:
    """Record `outcome` as the worker would: a success in one statement, else the
    failure path; None if the run had already been settled."""
    with sessions.begin() as session:
        if outcome.status.is_failure:
            return record_failure(session, run, outcome, now, rng)
        written = record_success(session.connection(), run, outcome, now)
        return Recorded(run.id, outcome.status) if written else None


def status_of(sessions: sessionmaker[Session], task_id: int) -> TaskStatus:
    """The status the API shows for the task now."""
    with sessions() as session:
        task = store.tasks.get_task(session, task_id)
        running = bool(store.tasks.running_task_ids(session, [task_id]))
        return task_status(task.state, enabled=task.enabled, running=running)


def history(sessions: sessionmaker[Session], task: Task) -> list[Execution]:
    with sessions() as session:
        query = select(Execution).where(Execution.task_id == task.id).order_by(Execution.id)
        return list(session.scalars(query))


def reload(sessions: sessionmaker[Session], task: Task) -> Task:
    with sessions() as session:
        return store.tasks.get_task(session, task.id)
