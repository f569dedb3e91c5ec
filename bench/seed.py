"""Filling the bench's database fast: many tasks, or a long history, in one statement.

A task's columns come from a real definition armed by `operations.new_task` (the same
path the API takes), so the bench lists no field of its own; only the name and the
due time vary from row to row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Interval, case, func, insert, literal, select, text

from handlers import load_registry
from taskbeat.models import Execution, Task
from taskbeat.settings import Settings
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.tasks.fields import TaskDefinition
from taskbeat.tasks.operations import new_task


def add_tasks(
    engine: Engine,
    settings: Settings,
    count: int,
    *,
    due_at: datetime,
    now: datetime,
    first: int = 1,
    **definition: Any,
) -> None:
    """`count` tasks named `bench-<n>` (n from `first`), all due at `due_at`."""
    values = {"name": "bench", "handler": "echo", "schedule": "every 1 hours", **definition}
    template = new_task(
        TaskDefinition.model_validate(values),
        load_registry(settings),
        now=now,
        default_queue=settings.default_queue,
    )
    number = (
        func.generate_series(first, first + count - 1)
        .table_valued("value")
        .render_derived(name="n")
    )
    columns = [column for column in Task.__table__.columns if column.key != "id"]
    row = {column.key: literal(getattr(template, column.key), column.type) for column in columns}
    row["name"] = func.concat("bench-", number.c.value)
    row["next_run_at"] = literal(due_at, Task.__table__.c.next_run_at.type)
    query = select(*(row[column.key] for column in columns)).select_from(number)
    with engine.begin() as connection:
        connection.execute(insert(Task).from_select([c.key for c in columns], query))
        connection.execute(text("ANALYZE tasks"))


def add_history(
    engine: Engine,
    count: int,
    *,
    tasks: int,
    ending: datetime,
    spacing: timedelta = timedelta(milliseconds=1),
) -> None:
    """`count` finished executions spread over tasks 1..`tasks`, one every `spacing` up
    to `ending`: mostly succeeded, one in ten failed, one in fifty skipped."""
    number = func.generate_series(1, count).table_valued("value").render_derived(name="n").c.value
    table = Execution.__table__.c
    slot = literal(ending, table.scheduled_for.type) - literal(spacing, Interval()) * (
        count - number
    )
    task_id = number % tasks + 1
    status = case(
        (number % 50 == 0, ExecutionStatus.SKIPPED.value),
        (number % 10 == 0, ExecutionStatus.FAILED.value),
        else_=ExecutionStatus.SUCCEEDED.value,
    )
    row = {
        "task_id": task_id,
        "task_name": func.concat("bench-", task_id),
        "trigger": literal(Trigger.SCHEDULE.value),
        "scheduled_for": slot,
        "manual_run": literal(0),
        "attempt": literal(1),
        "due_at": slot,
        "status": status,
        "test_mode": literal(False),
        "created_at": slot,
        "started_at": slot,
        "finished_at": slot,
        "duration": literal(0.005),
        "worker": literal("bench"),
    }
    with engine.begin() as connection:
        connection.execute(insert(Execution).from_select(list(row), select(*row.values())))
        connection.execute(text("ANALYZE executions"))
