"""Client commands: `taskbeat tasks ...`, `taskbeat executions ...`, `taskbeat handlers`.

They talk to a running API through `taskbeat.client` (TASKBEAT_URL, TASKBEAT_KEY) and
print tables for people or JSON for scripts (`--json`). An error answer exits 1 with
the problem's message (and each field it names).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import click
from pydantic import BaseModel

from taskbeat.client import ApiUnreachable, Client, ProblemError
from taskbeat.status import ExecutionStatus, Trigger
from taskbeat.tasks.state import TaskStatus

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8000"


def connection(command: F) -> F:
    """Add --url/--key (from TASKBEAT_URL/TASKBEAT_KEY) and --json; pass a Client."""

    @click.option("--url", envvar="TASKBEAT_URL", default=DEFAULT_URL, show_default=True)
    @click.option("--key", envvar="TASKBEAT_KEY", default=None, help="[env: TASKBEAT_KEY]")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
    @functools.wraps(command)
    def wrapper(url: str, key: str | None, as_json: bool, **options: Any) -> Any:
        with Client(url, key) as client, reported_errors():
            return command(client, Output(as_json), **options)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """An API error becomes a message on stderr and exit status 1."""
    try:
        yield
    except ProblemError as error:
        fields = [f"  {e['field']}: {e['message']}" for e in error.errors if e.get("field")]
        lines = [error.title, *fields] if fields else [error.detail or error.title]
        raise click.ClickException("\n".join(lines)) from None
    except ApiUnreachable as error:
        raise click.ClickException(f"cannot reach the API: {error}") from None


class Output:
    """Tables for people, JSON for scripts."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def items(self, rows: Sequence[BaseModel], columns: Sequence[str]) -> None:
        if self.as_json:
            click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
            return
        table = [[_cell(row.model_dump(mode="json").get(c)) for c in columns] for row in rows]
        click.echo(format_table(columns, table))

    def one(self, row: BaseModel) -> None:
        data = row.model_dump(mode="json")
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
            return
        width = max(len(name) for name in data)
        for name, value in data.items():
            click.echo(f"{name.ljust(width)}  {_cell(value, limit=None)}")


def format_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = list(rows)
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any, limit: int | None = 40) -> str:
    text = "-" if value is None else value if isinstance(value, str) else json.dumps(value)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    """`field=value` pairs; a value that reads as JSON is taken as JSON (3, true, null,
    {"a": 1}), anything else as a string."""
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not FIELD=VALUE", param_hint="--set")
        try:
            fields[name] = json.loads(text)
        except ValueError:
            fields[name] = text
    return fields


SET = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Any task field.")
TASK_COLUMNS = ("id", "name", "status", "handler", "schedule", "next_run_at")
EXECUTION_COLUMNS = ("id", "task_name", "status", "trigger", "attempt", "scheduled_for", "duration")


@click.group()
def tasks() -> None:
    """Tasks on a running API (TASKBEAT_URL, TASKBEAT_KEY)."""


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]))
@click.option("--handler")
@click.option("--tag")
@click.option("--q", help="A part of the name.")
@click.option("--sort", default="name", show_default=True)
@connection
def tasks_list(api: Client, out: Output, **filters: Any) -> None:
    """Every task that matches (all pages)."""
    out.items(list(api.iter_tasks(**filters)), TASK_COLUMNS)


@tasks.command("show")
@click.argument("ref")
@connection
def tasks_show(api: Client, out: Output, ref: str) -> None:
    """One task, by id or name."""
    out.one(api.get_task(ref))


@tasks.command("add")
@click.argument("name")
@click.argument("handler")
@click.argument("schedule")
@SET
@connection
def tasks_add(api: Client, out: Output, name: str, handler: str, schedule: str, sets: Any) -> None:
    """Create task NAME running HANDLER on SCHEDULE (more fields with --set)."""
    body = {"name": name, "handler": handler, "schedule": schedule, **parse_sets(sets)}
    out.one(api.create_task(body))


@tasks.command("update")
@click.argument("ref")
@SET
@click.option("--if-match", type=int, help="Refuse if the task is no longer at this version.")
@connection
def tasks_update(api: Client, out: Output, ref: str, sets: Any, if_match: int | None) -> None:
    """Change the fields given with --set (null clears a nullable one)."""
    out.one(api.update_task(ref, parse_sets(sets), if_match=if_match))


@tasks.command("delete")
@click.argument("ref")
@connection
def tasks_delete(api: Client, out: Output, ref: str) -> None:
    """Delete a task (its history stays)."""
    api.delete_task(ref)
    if not out.as_json:
        click.echo(f"deleted {ref}")


@tasks.command("run")
@click.argument("ref")
@click.option("--params", help="Params for this run, as a JSON object.")
@click.option("--test", "test_mode", is_flag=True, help="A test run.")
@connection
def tasks_run(api: Client, out: Output, ref: str, params: str | None, test_mode: bool) -> None:
    """Run a task now."""
    given = parse_sets([f"params={params}"])["params"] if params is not None else None
    out.one(api.run_task(ref, params=given, test_mode=test_mode))


def _action(name: str, call: Callable[[Client, str], BaseModel], about: str) -> None:
    @tasks.command(name, help=about)
    @click.argument("ref")
    @connection
    def command(api: Client, out: Output, ref: str) -> None:
        out.one(call(api, ref))


_action("pause", Client.pause_task, "Pause a task.")
_action("resume", Client.resume_task, "Resume a task from now.")
_action("reset-retries", Client.reset_retries, "Forget a task's failure streak.")


@click.group()
def executions() -> None:
    """The history on a running API (TASKBEAT_URL, TASKBEAT_KEY)."""


@executions.command("list")
@click.option("--task", help="A task's id or name.")
@click.option("--status", type=click.Choice([s.value for s in ExecutionStatus]))
@click.option("--trigger", type=click.Choice([t.value for t in Trigger]))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@connection
def executions_list(api: Client, out: Output, limit: int, **filters: Any) -> None:
    """The newest executions."""
    out.items(api.list_executions(limit=limit, **filters).items, EXECUTION_COLUMNS)


@executions.command("show")
@click.argument("execution_id", type=int)
@connection
def executions_show(api: Client, out: Output, execution_id: int) -> None:
    """One execution, with its logs and traceback."""
    out.one(api.get_execution(execution_id))


@click.command("handlers")
@connection
def handlers(api: Client, out: Output) -> None:
    """Handlers the API knows, with their default schedules."""
    out.items(api.handlers(), ("name", "default_schedule", "description"))
