"""A task's fields are described once: these fail when the description and the table
(or the JSON shape) disagree."""

from __future__ import annotations

import enum
import types
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect

from api.serialize import task_json
from taskbeat.models import Task, UTCDateTime
from taskbeat.tasks.fields import (
    NULLABLE_FIELDS,
    TaskChanges,
    TaskDefinition,
    TaskSettings,
    TaskView,
)
from taskbeat.tasks.state import TaskState

COLUMNS = {column.key: column for column in inspect(Task).columns}
# Columns no client sets or sees: the scheduler's and the worker's bookkeeping.
INTERNAL = {"state", "last_slot_at", "manual_runs"}
# Fields that may be left out and get a value when stored: the queue falls back to the
# default queue.
FILLED_WHEN_STORED = {"queue"}


def base_type(annotation: Any) -> type:
    """`int` for `int | None`, `dict` for `dict[str, Any]`, the class for an enum."""
    if get_origin(annotation) in (Union, types.UnionType):
        [annotation] = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return get_origin(annotation) or annotation


@pytest.mark.parametrize("name", list(TaskDefinition.model_fields))
def test_each_field_is_a_column_of_the_same_name_and_kind(name):
    assert name in COLUMNS, f"TaskDefinition.{name} has no column: add it to models.Task"
    column = COLUMNS[name]
    field_type = base_type(TaskDefinition.model_fields[name].annotation)
    column_type = column.type.python_type
    if issubclass(field_type, enum.Enum):
        assert column_type in (str, field_type) or issubclass(column_type, enum.Enum)
    else:
        assert issubclass(field_type, column_type) or (field_type, column_type) == (int, float)
    if name in NULLABLE_FIELDS and name not in FILLED_WHEN_STORED:
        assert column.nullable, f"{name} may be null in a definition but not in the table"
    if not column.nullable:
        assert name not in NULLABLE_FIELDS or name in FILLED_WHEN_STORED


def test_every_column_is_a_field_of_the_view_or_internal():
    shown = set(TaskView.model_fields) - {"status"}
    assert set(COLUMNS) - INTERNAL == shown
    assert set(COLUMNS) >= INTERNAL


def test_an_update_can_change_every_field_of_a_definition():
    assert set(TaskChanges.model_fields) == set(TaskDefinition.model_fields)


def test_a_tasks_json_has_exactly_the_fields_of_the_view():
    now = datetime(2026, 1, 1).astimezone()
    values = {
        name: None if COLUMNS[name].nullable else _sample(COLUMNS[name], now) for name in COLUMNS
    }
    body = task_json(Task(**{**values, "state": TaskState.ACTIVE}), running=False)
    assert list(body) == [*body]  # an ordered JSON object
    assert set(body) == set(TaskView.model_fields)
    assert body["status"] == "active"


def _sample(column: Any, now: datetime) -> Any:
    if isinstance(column.type, UTCDateTime):
        return now
    kind = column.type.python_type
    if issubclass(kind, enum.Enum):
        return next(iter(kind))
    samples = {int: 1, float: 1.0, bool: True, str: "x", dict: {}, list: []}
    return samples.get(kind, {})


def test_a_time_from_python_or_yaml_is_a_datetime_not_a_date():
    # YAML reads `start_at: 2027-03-01` as a date: its midnight is not what it says.
    when = datetime(2027, 3, 1, 9, 30)
    assert TaskSettings(start_at=when).start_at == when
    with pytest.raises(ValidationError, match="a date and time"):
        TaskSettings(start_at=date(2027, 3, 1))
