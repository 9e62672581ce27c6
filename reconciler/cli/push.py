"""``reconciler push``: push the ledger commits of ``apply --commit`` and ``status --commit``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.git.ledgerbranch import attach
from reconciler.git.publish import describe_push, push
from reconciler.reconcile.lock import repository_lock
from reconciler.settings import load_settings


@click.command("push")
@click.option("--remote", default="origin", show_default=True, help="The remote to push to.")
@click.pass_context
def command(ctx: click.Context, remote: str) -> None:
    """Push the ledger to the remote.

    With a ledger branch (reconciler.yaml ledger.branch), pushes that branch
    only: the requests' branch, a protected main say, is never pushed to.
    Without one, pushes the apply branch (reconciler.yaml apply.branch, default
    main) and refuses any other branch checked out. When the remote moved, the
    ledger commits are rebased onto it and pushed again. A token in
    LEDGER_PUSH_TOKEN is used for the remote when set (given to git through
    its environment, never written down). Takes the repository's lock, as
    apply does, since a rebase rewrites the ledger's files.

    \b
    Example:
      reconciler apply --auto-approve --commit && reconciler push
    """
    root: Path = ctx.obj["root"]
    with repository_lock(root, command="push") as takeover:
        if takeover:
            click.echo(f"note: {takeover}", err=True)
        settings = attach(load_settings(root, os.environ), remote)
        outcome = push(settings, remote, os.environ)
    click.echo(describe_push(settings, remote, outcome))
