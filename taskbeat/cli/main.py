"""The `taskbeat` command and its core commands (`db`, `keys`).

`api`, `scheduler`, `worker` and `dev` are found through the `taskbeat.commands` entry
points, so the core imports none of the parts they start.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import click

from taskbeat.apikeys import create_key, list_keys, revoke_key
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory, masked
from taskbeat.errors import ConfigurationError, NotFound
from taskbeat.logs import configure_logging
from taskbeat.migrate import current_revision, downgrade, head_revision, upgrade
from taskbeat.settings import Settings
from taskbeat.status import ApiRole

COMMAND_GROUP = "taskbeat.commands"


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

    Configured by TASKBEAT_* environment variables (TASKBEAT_DATABASE_URL,
    TASKBEAT_REDIS_URL, ...).
    """
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(settings: Settings, revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    upgrade(settings.database_url, revision)
    click.echo(f"{masked(settings.database_url)} is at {revision}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(settings: Settings, revision: str) -> None:
    """Migrate the database back to REVISION ('base' removes every table)."""
    downgrade(settings.database_url, revision)
    click.echo(f"{masked(settings.database_url)} is at {revision}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the database's schema revision and the latest one."""
    engine = make_engine(settings.database_url)
    try:
        click.echo(f"current: {current_revision(engine) or 'none'}  head: {head_revision()}")
    finally:
        engine.dispose()


@cli.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in ApiRole]), required=True)
@click.option("--name", default="", help="What the key is for.")
@click.pass_obj
def keys_create(settings: Settings, role: str, name: str) -> None:
    """Create a key and print it; it is shown only this once."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=1))
    with sessions.begin() as session:
        key, plaintext = create_key(session, name=name or role, role=ApiRole(role), now=utcnow())
        click.echo(f"created key {key.id} ({key.role.value}): {plaintext}", err=True)
    click.echo(plaintext)


@keys.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """List keys (their prefixes only)."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=1))
    with sessions() as session:
        for key in list_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
            click.echo(f"{key.id}\t{key.role.value}\t{key.prefix}...\t{state}\t{key.name}")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_obj
def keys_revoke(settings: Settings, key_id: int) -> None:
    """Revoke key KEY_ID."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=1))
    with sessions.begin() as session:
        revoke_key(session, key_id, utcnow())
    click.echo(f"revoked key {key_id}")


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
