"""``reconciler encrypt``: encrypt the identity values in clear of request files, in place."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import click

from reconciler.cli.paths import resolve_paths
from reconciler.secrets import ledgerkey, sealing
from reconciler.settings import Settings, load_settings


def report(rewrites: Sequence[sealing.Rewrite], verb: str) -> int:
    """One line per changed file (counts only, never a value); the number of values."""
    for rewrite in rewrites:
        if rewrite.values:
            click.echo(f"{verb} {rewrite.values:,} value(s) in {rewrite.shown}")
    return sum(r.values for r in rewrites)


def key_note(change: ledgerkey.KeyChange, recipients: int) -> str:
    """What became of the fingerprint key (its id only, never the key)."""
    where = f"(encryption.fingerprintKey in reconciler.yaml) for {recipients} recipient(s)"
    if change.created:
        return (
            f"created the ledger's fingerprint key {change.key_id} {where}: commit "
            "reconciler.yaml with the requests"
        )
    return (
        f"re-encrypted the ledger's fingerprint key {change.key_id} {where}: the same key, "
        "so the ledger's fingerprints still match"
    )


def rewrite_files(
    ctx: click.Context,
    paths: Sequence[Path],
    planner: Callable[[Settings, Iterable[Path]], list[sealing.Rewrite]],
    verb: str,
    done_note: str,
    nothing: str,
    key: Callable[[Settings], ledgerkey.KeyChange | None],
) -> None:
    """Plan the rewrites of ``paths`` (default: every request file) and of the fingerprint
    key in reconciler.yaml, write them, and say how many values changed: what
    ``encrypt`` and ``rekey`` share."""
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    files = sealing.files_of(settings, resolve_paths(ctx.obj["cwd"], tuple(paths)))
    rewrites = planner(settings, files)
    change = key(settings)
    sealing.write(rewrites)
    if change is not None:
        ledgerkey.write_settings(change.rewrite)
    total = report(rewrites, verb)
    if change is not None:
        click.echo(key_note(change, len(settings.age_recipients)))
    if total:
        changed = sum(1 for r in rewrites if r.values)
        click.echo(
            f"{total:,} value(s) {verb} in {changed} file(s) for "
            f"{len(settings.age_recipients)} recipient(s){done_note}"
        )
    else:
        click.echo(f"nothing to {nothing} in {len(files)} file(s)")
    ctx.exit(0)


@click.command("encrypt")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def command(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Encrypt identity values in clear, in place, for the configured recipients.

    Encrypts every identity value in clear in the files named (default: every
    request file) for all the age public keys listed under
    encryption.recipients in reconciler.yaml; values already encrypted are
    left as they are. No key is needed. Comments and layout are kept: only
    the values change, each to ENC[age:BASE64]. A file with findings is
    refused, and then nothing is written.

    The first time, it also adds the ledger's fingerprint key to
    reconciler.yaml (encryption.fingerprintKey, a random key encrypted for
    the same recipients): apply keys the ledger fingerprints of encrypted
    requests with it, so that they test no guessed identity. Commit it.

    \b
    Example:
      reconciler encrypt requests/record-deletes/jira-12345.yaml
      reconciler encrypt            # every request file
    """
    rewrite_files(
        ctx,
        paths,
        sealing.plan_encrypt,
        "encrypted",
        "",
        "encrypt: no value in clear",
        ledgerkey.key_for_encrypt,
    )
