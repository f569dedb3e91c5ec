"""Pages of tasks and executions for the API (and the dashboard), with their filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, select, union_all
from sqlalchemy.orm import Session

from taskbeat.models import Execution, Task
from taskbeat.status import FINAL_STATUSES, ExecutionStatus, Trigger
from taskbeat.tasks.state import TaskState, TaskStatus

# Each order is read from an index (see the indexes beside taskbeat.models.Task): names
# are unique, ids too; times tie-break on the id, and a missing time comes last.
TASK_SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Task.name,),
    "id": (Task.id,),
    "created_at": (Task.created_at, Task.id),
    "next_run_at": (Task.next_run_at, Task.id),
    "last_run_at": (Task.last_run_at, Task.id),
}
NULLABLE_SORTS = frozenset({"next_run_at", "last_run_at"})


@dataclass(frozen=True)
class TaskFilter:
    status: TaskStatus | None = None
    handler: str | None = None
    tag: str | None = None
    search: str | None = None  # a part of the name, any case


def list_tasks(
    session: Session, where: TaskFilter, *, sort: str, limit: int, offset: int
) -> tuple[Sequence[Task], int]:
    """A page of tasks and the total that match. `sort` is a TASK_SORTS key, `-` for
    descending."""
    query = select(Task).where(*_task_conditions(where))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(*task_order(sort)).limit(limit).offset(offset)
    return session.scalars(page).all(), total


def task_order(sort: str) -> list[Any]:
    """ORDER BY terms for a TASK_SORTS key (`-` first for descending)."""
    name = sort.removeprefix("-")
    columns = TASK_SORTS[name]
    terms = [column.desc() if sort.startswith("-") else column for column in columns]
    if name in NULLABLE_SORTS:
        terms.insert(0, columns[0].is_(None))
    return terms


def _task_conditions(where: TaskFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.status is not None:
        conditions += _status_conditions(where.status)
    if where.handler:
        conditions.append(Task.handler == where.handler)
    if where.search:
        conditions.append(func.lower(Task.name).contains(where.search.lower(), autoescape=True))
    if where.tag:
        # Tags are a short JSON list; match the quoted element in its text form, which
        # works the same on SQLite and PostgreSQL.
        conditions.append(cast(Task.tags, String).contains(f'"{where.tag}"', autoescape=True))
    return conditions


def _status_conditions(status: TaskStatus) -> list[ColumnElement[bool]]:
    """The tasks `task_status` shows as `status`: paused over running over the state."""
    if status is TaskStatus.PAUSED:
        return [Task.enabled.is_(False)]
    running = Task.id.in_(
        select(Execution.task_id).where(
            Execution.status == ExecutionStatus.RUNNING, Execution.test_mode.is_(False)
        )
    )
    if status is TaskStatus.RUNNING:
        return [Task.enabled.is_(True), running]
    return [Task.enabled.is_(True), Task.state == TaskState(status.value), ~running]


@dataclass(frozen=True)
class ExecutionFilter:
    task_id: int | None = None
    status: ExecutionStatus | None = None
    trigger: Trigger | None = None
    before_id: int | None = None  # the paging cursor: rows older than this one
    after_id: int | None = None  # only rows newer than this one (a live feed's catch-up)
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_executions(session: Session, where: ExecutionFilter, *, limit: int) -> Sequence[Execution]:
    """Executions newest first (by id: the order they were created in)."""
    query = select(Execution)
    if where.task_id is not None:
        query = query.where(Execution.task_id == where.task_id)
    if where.status is not None:
        query = query.where(Execution.status == where.status)
    if where.trigger is not None:
        query = query.where(Execution.trigger == where.trigger)
    if where.before_id is not None:
        query = query.where(Execution.id < where.before_id)
    if where.after_id is not None:
        query = query.where(Execution.id > where.after_id)
    if where.created_from is not None:
        query = query.where(Execution.created_at >= where.created_from)
    if where.created_to is not None:
        query = query.where(Execution.created_at < where.created_to)
    return session.scalars(query.order_by(Execution.id.desc()).limit(limit)).all()


def recent_outcomes(
    session: Session, task_ids: Sequence[int], per_task: int
) -> dict[int, list[tuple[int, ExecutionStatus]]]:
    """Each task's latest finished executions, newest first: (id, status) pairs.

    One statement: a newest-first walk of the (task_id, id) index per task, `per_task`
    rows each, glued with UNION ALL, so a page of tasks costs a page of index reads.
    """
    if not task_ids:
        return {}
    parts = [
        select(Execution.task_id, Execution.id, Execution.status)
        .where(Execution.task_id == task_id, Execution.status.in_(FINAL_STATUSES))
        .order_by(Execution.id.desc())
        .limit(per_task)
        .subquery()
        for task_id in task_ids
    ]
    query = union_all(*(select(part) for part in parts))
    found: dict[int, list[tuple[int, ExecutionStatus]]] = {task_id: [] for task_id in task_ids}
    for task_id, execution_id, status in session.execute(query):
        found[task_id].append((execution_id, ExecutionStatus(status)))
    for outcomes in found.values():
        outcomes.sort(reverse=True)
    return found
