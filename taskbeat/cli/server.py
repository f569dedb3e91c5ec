"""`taskbeat db` and `taskbeat keys`: the commands that work on the database itself."""

from __future__ import annotations

import click

from taskbeat.apikeys import create_key, list_keys, revoke_key
from taskbeat.clock import utcnow
from taskbeat.db import make_engine, make_session_factory, masked
from taskbeat.migrate import current_revision, downgrade, head_revision, upgrade
from taskbeat.settings import Settings
from taskbeat.status import ApiRole


@click.group()
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


@click.group()
def keys() -> None:
    """API keys: create one per client, rotate by creating a new one and revoking the old."""


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
    """List keys: id, role, lookup id, state, last use, name (never the key)."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=1))
    with sessions() as session:
        for key in list_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            click.echo(f"{key.id}\t{key.role.value}\t{key.lookup_id}\t{state}\t{used}\t{key.name}")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_obj
def keys_revoke(settings: Settings, key_id: int) -> None:
    """Revoke key KEY_ID (running APIs stop taking it within 30 seconds)."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=1))
    with sessions.begin() as session:
        revoke_key(session, key_id, utcnow())
    click.echo(f"revoked key {key_id}")
