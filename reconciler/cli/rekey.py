"""``reconciler rekey``: re-encrypt encrypted identity values for the current recipients."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.encrypt import rewrite_files
from reconciler.secrets import sealing


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
    rewrite_files(
        ctx,
        paths,
        sealing.plan_rekey,
        "re-encrypted",
        "; the plan shows no change",
        "re-encrypt: no encrypted value",
    )
