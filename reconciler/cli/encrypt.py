"""``reconciler encrypt``: encrypt the identity values in clear of request files, in place."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.paths import resolve_paths
from reconciler.secrets import sealing
from reconciler.settings import load_settings


def report(rewrites: Sequence[sealing.Rewrite], verb: str) -> int:
    """One line per changed file (counts only, never a value); the number of values."""
    for rewrite in rewrites:
        if rewrite.values:
            click.echo(f"{verb} {rewrite.values:,} value(s) in {rewrite.shown}")
    return sum(r.values for r in rewrites)


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

    \b
    Example:
      reconciler encrypt requests/record-deletes/jira-12345.yaml
      reconciler encrypt            # every request file
    """
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    files = sealing.files_of(settings, resolve_paths(ctx.obj["cwd"], paths))
    rewrites = sealing.plan_encrypt(settings, files)
    sealing.write(rewrites)
    total = report(rewrites, "encrypted")
    if total:
        changed = sum(1 for r in rewrites if r.values)
        click.echo(
            f"{total:,} value(s) encrypted in {changed} file(s) for "
            f"{len(settings.age_recipients)} recipient(s)"
        )
    else:
        click.echo(f"nothing to encrypt: no value in clear in {len(files)} file(s)")
    ctx.exit(0)
