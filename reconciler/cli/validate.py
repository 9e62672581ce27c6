"""``reconciler validate``: the pull-request check."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.check.baserules import validate_against_base
from reconciler.check.reporters import REPORTERS
from reconciler.check.validation import validate
from reconciler.cli.paths import resolve_paths
from reconciler.settings import load_settings


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--base",
    metavar="REF",
    help="Also check that requests existing at REF kept their immutable fields "
    "and were neither renamed nor removed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
    help="text for people, github for workflow annotations, sarif for code scanning, "
    "json for tools.",
)
@click.pass_context
def command(ctx: click.Context, paths: tuple[Path, ...], base: str | None, fmt: str) -> None:
    """Check request files against the schemas and rules.

    Checks every file under requests/ unless PATHs are given. Exits 0 when
    all are valid, 1 when there are findings, 2 on a usage error.

    \b
    Example:
      reconciler validate --base origin/main --format github
    """
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    resolved = resolve_paths(ctx.obj["cwd"], paths)
    if base is None:
        report = validate(settings, resolved)
    else:
        report = validate_against_base(settings, resolved, base)
    click.echo(REPORTERS[fmt](report))
    ctx.exit(0 if report.success else 1)
