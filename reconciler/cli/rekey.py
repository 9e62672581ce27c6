"""``reconciler rekey``: re-encrypt encrypted identity values for the current recipients."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.encrypt import report
from reconciler.cli.paths import resolve_paths
from reconciler.secrets import sealing
from reconciler.settings import load_settings


@click.command("rekey")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def command(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Re-encrypt encrypted identity values for the recipients now configured.

    After changing encryption.recipients in reconciler.yaml (a new key, a
    key removed), decrypts every encrypted value of the files named (default:
    every request file) with the key from RECONCILER_AGE_KEY or
    RECONCILER_AGE_KEY_FILE and encrypts it again for the current
    recipients, in place. Values in clear are left as they are (see
    `reconciler encrypt`). The values themselves do not change, so the plan
    shows no change to Adobe. If any value does not decrypt, nothing is
    written.

    \b
    Example:
      RECONCILER_AGE_KEY_FILE=old-key.txt reconciler rekey
    """
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    files = sealing.files_of(settings, resolve_paths(ctx.obj["cwd"], paths))
    rewrites = sealing.plan_rekey(settings, files)
    sealing.write(rewrites)
    total = report(rewrites, "re-encrypted")
    if total:
        changed = sum(1 for r in rewrites if r.values)
        click.echo(
            f"{total:,} value(s) re-encrypted in {changed} file(s) for "
            f"{len(settings.age_recipients)} recipient(s); the plan shows no change"
        )
    else:
        click.echo(f"nothing to re-encrypt: no encrypted value in {len(files)} file(s)")
    ctx.exit(0)
