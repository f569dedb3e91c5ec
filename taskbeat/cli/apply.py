"""`taskbeat apply tasks.yaml`: tasks as code (see `taskbeat.client.manifest`)."""

from __future__ import annotations

from pathlib import Path

import click

from taskbeat.cli.remote import DEFAULT_URL, reported_errors
from taskbeat.client import Client
from taskbeat.client.manifest import Manifest, ManifestError, execute, load_manifest, plan


@click.command("apply")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the changes, field by field; change nothing.")
@click.option("--prune", is_flag=True, help="Delete labelled tasks the file no longer lists.")
@click.option("--defaults", is_flag=True, help="Also install each handler's default task.")
@click.option("--url", envvar="TASKBEAT_URL", default=DEFAULT_URL, show_default=True)
@click.option("--key", envvar="TASKBEAT_KEY", default=None, help="[env: TASKBEAT_KEY]")
def apply(
    file: Path | None, dry_run: bool, prune: bool, defaults: bool, url: str, key: str | None
) -> None:
    """Create or update the tasks FILE defines, by name."""
    if file is None and not defaults:
        raise click.UsageError("give a FILE, or --defaults")
    try:
        manifest = load_manifest(file) if file else Manifest("(defaults)", None, [])
        with Client(url, key) as api, reported_errors():
            changes = plan(api, manifest, prune=prune, defaults=defaults)
            for change in changes:
                click.echo(change.describe())
            if not dry_run:
                execute(api, changes)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "would change" if dry_run else "changed"
    click.echo(f"{len(changes)} {'task' if len(changes) == 1 else 'tasks'} {verb}", err=True)
