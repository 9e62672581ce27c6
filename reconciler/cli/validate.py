"""``reconciler validate``: the pull-request check."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.check.baserules import validate_against_base, validate_with_ledger
from reconciler.check.reporters import REPORTERS
from reconciler.cli.paths import resolve_paths
from reconciler.errors import UsageError
from reconciler.settings import load_settings


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--base",
    metavar="REF",
    help="Also check what changed since REF (where HEAD branched from it): requests "
    "in the ledger kept their immutable fields and were neither renamed nor removed, "
    "no ledger file changed, and reconciler.yaml moved no trust.",
)
@click.option(
    "--requests-only",
    is_flag=True,
    help="With --base, compare only the requests with REF, not the ledger files and "
    "reconciler.yaml: for the apply job, whose own ledger commits follow REF.",
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
def command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    base: str | None,
    requests_only: bool,
    fmt: str,
) -> None:
    """Check request files against the schemas and rules.

    Checks every file under requests/ unless PATHs are given, and refuses a
    request that repeats an applied one under another name. Exits 0 when
    there are no errors (warnings are shown), 1 when there are, 2 on a usage
    error.

    \b
    Example:
      reconciler validate --base origin/main --format github
    """
    root: Path = ctx.obj["root"]
    settings = load_settings(root, os.environ)
    resolved = resolve_paths(ctx.obj["cwd"], paths)
    if base is None:
        if requests_only:
            raise UsageError("--requests-only needs --base REF")
        report = validate_with_ledger(settings, resolved)
    else:
        report = validate_against_base(settings, resolved, base, requests_only=requests_only)
    click.echo(REPORTERS[fmt](report))
    ctx.exit(0 if report.success else 1)
