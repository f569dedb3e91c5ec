"""The `taskbeat` command.

Its commands are found through the `taskbeat.commands` entry points and loaded only
when run, so the core imports none of the parts they start, and a client command
(`tasks`, `executions`, `handlers`, `apply`) loads neither the database nor the
server's settings: it needs only TASKBEAT_URL and TASKBEAT_KEY.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import click

from taskbeat.errors import ConfigurationError, NotFound
from taskbeat.logs import configure_logging
from taskbeat.settings import Settings

COMMAND_GROUP = "taskbeat.commands"
# API clients: they talk to a running API and read no TASKBEAT_* server setting.
CLIENT_COMMANDS = frozenset({"tasks", "executions", "handlers", "apply"})


class TaskbeatGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        found = {entry.name for entry in entry_points(group=COMMAND_GROUP)}
        return sorted(set(super().list_commands(ctx)) | found)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        for entry in entry_points(group=COMMAND_GROUP, name=name):
            loaded = entry.load()
            assert isinstance(loaded, click.Command)
            return loaded
        return None


@click.group(cls=TaskbeatGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """taskbeat: scheduled tasks on SQL, Redis and Celery.

    The server commands are configured by TASKBEAT_* environment variables
    (TASKBEAT_DATABASE_URL, TASKBEAT_REDIS_URL, ...); the client commands by
    TASKBEAT_URL and TASKBEAT_KEY.
    """
    if ctx.invoked_subcommand in CLIENT_COMMANDS:
        return
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


def main() -> None:
    try:
        cli(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ConfigurationError, NotFound) as exc:
        click.echo(f"taskbeat: {exc}", err=True)
        sys.exit(2)
