"""``reconciler rekey``: re-encrypt encrypted identity values for the current recipients, or
replace the ledger's fingerprint key (``--fingerprint-key``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.encrypt import rewrite_files
from reconciler.reconcile.lock import repository_lock
from reconciler.reconcile.workspace import open_workspace
from reconciler.secrets import ledgerkey, sealing


def _entries(n: int) -> str:
    return f"{n} ledger {'entry' if n == 1 else 'entries'}"


def rotate(ctx: click.Context) -> None:
    """Replace the fingerprint key and re-fingerprint the ledger, under the repository lock."""
    root: Path = ctx.obj["root"]
    with repository_lock(root, command="rekey") as takeover:
        if takeover:
            click.echo(f"note: {takeover}", err=True)
        ws = open_workspace(root, os.environ)
        rotation = ledgerkey.plan_rotation(ws.settings, ws.requests, ws.ledger)
        ledgerkey.write_rotation(rotation, ws.ledger)
    settings = ws.settings
    was = f"replacing {rotation.previous}" if rotation.previous else "the first one"
    click.echo(
        f"new fingerprint key {rotation.key_id} ({was}) in reconciler.yaml, encrypted for "
        f"{len(settings.age_recipients)} recipient(s)"
    )
    made_before = f", {rotation.upgraded} of them made before fingerprint keys"
    click.echo(
        f"fingerprinted {_entries(len(rotation.entries))} again with it, each checked "
        f"first{made_before if rotation.upgraded else ''}"
    )
    if rotation.left:
        click.echo(
            f"left {_entries(len(rotation.left))} of removed request files under key "
            f"{rotation.previous}: {', '.join(rotation.left)} (no file to fingerprint again)"
        )
    folder = settings.ledger_path.relative_to(settings.ledger_root or settings.root)
    if settings.ledger_root is None:
        click.echo(
            f"commit reconciler.yaml and {folder.as_posix()}/ together, in one commit: "
            f"git add reconciler.yaml {folder.as_posix()} && git commit"
        )
    else:
        click.echo(
            f"the ledger entries are written in the work tree of the ledger branch "
            f"{settings.ledger_branch} ({settings.ledger_root}): commit them there and push "
            "them when the change to reconciler.yaml merges; until both are in, plan and "
            "apply refuse with a key mismatch and send nothing"
        )
    ctx.exit(0)


@click.command("rekey")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--fingerprint-key",
    "fingerprint_key",
    is_flag=True,
    help="Replace the ledger's fingerprint key with a new one and fingerprint every ledger "
    "entry again with it, after checking each with the key it was made with.",
)
@click.pass_context
def command(ctx: click.Context, paths: tuple[Path, ...], fingerprint_key: bool) -> None:
    """Re-encrypt encrypted identity values for the recipients now configured.

    After changing encryption.recipients in reconciler.yaml (a new key, a
    key removed), decrypts every encrypted value of the files named (default:
    every request file) with the key from RECONCILER_AGE_KEY or
    RECONCILER_AGE_KEY_FILE and encrypts it again for the current
    recipients, in place, and the ledger's fingerprint key
    (encryption.fingerprintKey) with them. Values in clear are left as they
    are (see `reconciler encrypt`). The values and the fingerprint key
    themselves do not change, so the plan shows no change to Adobe. If any
    value does not decrypt, nothing is written.

    With --fingerprint-key, replaces the fingerprint key instead (when it may
    have leaked, or to key the entries made before fingerprint keys): every
    ledger entry is checked with the key it was made with, then fingerprinted
    again with the new key, so no request reads as changed and none is
    submitted again. An entry that does not match its request stops it, with
    nothing written. Commit reconciler.yaml and the ledger together.

    \b
    Example:
      RECONCILER_AGE_KEY_FILE=old-key.txt reconciler rekey
      RECONCILER_AGE_KEY_FILE=key.txt reconciler rekey --fingerprint-key
    """
    if fingerprint_key:
        if paths:
            raise click.UsageError("--fingerprint-key takes no PATHS: it covers the whole ledger")
        rotate(ctx)
    rewrite_files(
        ctx,
        paths,
        sealing.plan_rekey,
        "re-encrypted",
        "; the plan shows no change",
        "re-encrypt: no encrypted value",
        ledgerkey.key_for_rekey,
    )
