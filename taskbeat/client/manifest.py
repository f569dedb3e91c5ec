"""Tasks as code: a YAML file of task definitions, applied to a running API by name.

    label: reports            # optional; the tasks this file owns carry the tag apply:reports
    tasks:
      - name: nightly-report
        handler: echo
        schedule: "0 2 * * *"
        params: {who: world}

Each entry is validated with `TaskDefinition`, the model the API validates with. A task
the API lacks is created; one it has is updated in the fields the entry sets (a field
left out keeps its value), and only when one differs, so applying a file again changes
nothing and no version moves. With a label, `prune` deletes the tasks that carry the
label but that the file no longer lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taskbeat.client.client import Client
from taskbeat.tasks.fields import TaskDefinition, TaskView

LABEL_TAG = "apply:{}"
# Fields the server fills when left empty: an entry that leaves them empty differs in nothing.
_FILLED_BY_SERVER = frozenset({"queue"})


class ManifestError(Exception):
    """The file is not a valid manifest; the message names the file, task and field."""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,58}$")
    tasks: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class Manifest:
    source: str
    label: str | None
    tasks: list[TaskDefinition]

    @property
    def label_tag(self) -> str | None:
        return LABEL_TAG.format(self.label) if self.label else None


@dataclass
class Change:
    kind: str  # create, update, delete
    name: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (old, new)
    body: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.kind]
        parts = [
            f"{name}: {_show(old)} -> {_show(new)}" for name, (old, new) in self.fields.items()
        ]
        if self.kind == "create":
            parts = [
                f"{name}: {_show(value)}" for name, value in self.body.items() if name != "name"
            ]
        return f"{sign} {self.kind} {self.name}" + "".join(f"\n    {part}" for part in parts)


def load_manifest(path: Path) -> Manifest:
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
        document = _File.model_validate(raw if raw is not None else {})
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{source}: {exc}") from exc
    except ValidationError as exc:
        raise ManifestError(f"{source}: {_first(exc)}") from exc
    tasks = [_entry(source, index, entry) for index, entry in enumerate(document.tasks, 1)]
    names = [task.name for task in tasks]
    for name in names:
        if names.count(name) > 1:
            raise ManifestError(f"{source}: task {name!r} is listed twice")
    return Manifest(source, document.label, tasks)


def plan(
    api: Client, manifest: Manifest, *, prune: bool = False, defaults: bool = False
) -> list[Change]:
    """What applying the manifest would change (nothing is changed here)."""
    wanted = list(manifest.tasks)
    current = {task.name: task for task in api.iter_tasks()}
    if defaults:  # only where no task has the name yet: an existing one is left alone
        wanted += _handler_defaults(api, {task.name for task in wanted} | set(current))
    changes = [_change(task, current.get(task.name), manifest.label_tag) for task in wanted]
    if prune:
        if manifest.label_tag is None:
            raise ManifestError(f"{manifest.source}: --prune needs a `label:` in the file")
        listed = {task.name for task in wanted}
        owned = [t for t in current.values() if manifest.label_tag in t.tags]
        changes += [Change("delete", t.name) for t in owned if t.name not in listed]
    return [change for change in changes if change is not None]


def execute(api: Client, changes: Iterable[Change]) -> None:
    for change in changes:
        if change.kind == "create":
            api.create_task(change.body)
        elif change.kind == "update":
            api.update_task(change.name, change.body)
        else:
            api.delete_task(change.name)


def _entry(source: str, index: int, entry: Mapping[str, Any]) -> TaskDefinition:
    try:
        return TaskDefinition.model_validate(entry)
    except ValidationError as exc:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        who = f"task {name!r} (entry {index})" if name else f"entry {index}"
        raise ManifestError(f"{source}: {who}: {_first(exc)}") from exc


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _handler_defaults(api: Client, taken: set[str]) -> list[TaskDefinition]:
    """A task for each handler that declares a default schedule, named after it, unless
    the name is `taken`."""
    return [
        TaskDefinition(name=spec.name, handler=spec.name, schedule=spec.default_schedule)
        for spec in api.handlers()
        if spec.default_schedule and spec.name not in taken
    ]


def _change(task: TaskDefinition, current: TaskView | None, label_tag: str | None) -> Change | None:
    given = set(task.model_fields_set) - {"name"}
    if label_tag is not None:
        given.add("tags")
    desired = task.model_dump(mode="json", include=given | {"name"})
    if label_tag is not None:
        base = task.tags if "tags" in task.model_fields_set or current is None else current.tags
        desired["tags"] = [*base, *([label_tag] if label_tag not in base else [])]
    if current is None:
        return Change("create", task.name, body=desired)
    differ = {
        name: (getattr(current, name), desired[name])
        for name in sorted(given)
        if not _same(name, getattr(current, name), desired[name], current, task)
    }
    if not differ:
        return None
    return Change("update", task.name, fields=differ, body={n: desired[n] for n in differ})


def _same(name: str, old: Any, new: Any, current: TaskView, task: TaskDefinition) -> bool:
    if new is None and name in _FILLED_BY_SERVER:
        return True
    if isinstance(old, datetime) and isinstance(new, str):
        zone = task.timezone if "timezone" in task.model_fields_set else current.timezone
        moment = datetime.fromisoformat(new)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        return moment == old
    if hasattr(old, "value"):  # an enum, as the JSON string the file gave
        old = old.value
    return bool(old == new)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(getattr(value, "value", value))
