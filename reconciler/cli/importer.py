"""``reconciler import``: adopt work orders created outside this repository."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.git.ledgerbranch import attach, load_ledger
from reconciler.reconcile.importer import import_work_orders
from reconciler.reconcile.lock import repository_lock
from reconciler.reconcile.workspace import Workspace
from reconciler.settings import load_settings


@click.command("import")
@click.argument("workorder_ids", nargs=-1, required=True)
@click.option(
    "--dir",
    "folder",
    default="imported",
    show_default=True,
    help="Subfolder of the requests folder for the new files.",
)
@click.pass_context
def command(ctx: click.Context, workorder_ids: tuple[str, ...], folder: str) -> None:
    """Adopt work orders created elsewhere (Adobe's UI, a script).

    Writes a request file and a ledger entry per work order, marked as
    imported. Adobe never returns a work order's identities, so the file
    has none and says so; its displayName and description are managed from
    the file afterwards. Commit both with a pull request. Takes the
    repository's lock, as apply does: while an apply runs, import refuses
    and writes nothing.

    \b
    Example:
      reconciler import DI-1a2b3c4d-0000-4000-8000-123456789abc
    """
    root: Path = ctx.obj["root"]
    with repository_lock(root, command="import") as takeover:
        if takeover:
            click.echo(f"note: {takeover}", err=True)
        settings = attach(load_settings(root, os.environ))
        ledger = load_ledger(settings)
        with Workspace(settings, (), ledger).client(os.environ) as client:
            done = import_work_orders(client, settings, ledger, list(workorder_ids), folder)
    for item in done:
        click.echo(f"imported {item.workorder_id} as {item.name}: {item.path}")
    if settings.ledger_branch:
        click.echo(
            "Next: commit the request files in a pull request. The ledger entries are "
            f"written on the ledger branch {settings.ledger_branch!r}: record them with "
            "`reconciler push`, or the next apply --commit does."
        )
    else:
        click.echo("Next: commit the files and ledger entries in a pull request.")
