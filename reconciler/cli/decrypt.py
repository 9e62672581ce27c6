"""``reconciler decrypt``: show a request file with its identity values decrypted."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.paths import resolve_paths
from reconciler.secrets import sealing
from reconciler.settings import load_settings


@click.command("decrypt")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--in-place",
    is_flag=True,
    help="Write the values in clear back into the file instead of printing it.",
)
@click.pass_context
def command(ctx: click.Context, path: Path, in_place: bool) -> None:
    """Print a request file with its encrypted identity values in clear.

    For a person holding the key (RECONCILER_AGE_KEY or
    RECONCILER_AGE_KEY_FILE): prints the whole file, comments included, with
    each ENC[age:…] value decrypted. The file itself is left as it is unless
    --in-place, which writes the values back in clear; encrypt them again
    with `reconciler encrypt` before committing.

    \b
    Example:
      RECONCILER_AGE_KEY_FILE=key.txt reconciler decrypt requests/consent/ccpa-2026-11.yaml
    """
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    (file,) = resolve_paths(ctx.obj["cwd"], [path])
    rewrite = sealing.decrypt_file(settings, file)
    if not in_place:
        click.echo(rewrite.text, nl=False)
        ctx.exit(0)
    sealing.write([rewrite])
    click.echo(f"decrypted {rewrite.values:,} value(s) in {rewrite.shown}", err=True)
    if rewrite.values and (settings.age_recipients or not settings.allow_cleartext_identities):
        click.echo(
            f"note: {rewrite.shown} now holds identities in clear; encrypt it again "
            f"(reconciler encrypt {rewrite.shown}) before committing it",
            err=True,
        )
    ctx.exit(0)
