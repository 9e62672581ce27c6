"""``reconciler init``: start a repository of privacy requests."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.check.validation import display_path
from reconciler.scaffold import install, starter
from reconciler.scaffold.workflows import DEFAULT_ACTION


@click.command("init")
@click.argument(
    "directory",
    metavar="[DIR]",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--org-id",
    metavar="ID",
    help="IMS organisation id (…@AdobeOrg). Without it, reconciler.yaml holds a TODO.",
)
@click.option(
    "--sandbox",
    metavar="NAME",
    help="Experience Platform sandbox name, e.g. prod. Without it, reconciler.yaml holds a TODO.",
)
@click.option(
    "--ledger-branch",
    metavar="NAME",
    help=f"Branch that holds the ledger (default: {starter.DEFAULT_LEDGER_BRANCH}); "
    "main can then be protected.",
)
@click.option(
    "--ledger-in-tree",
    is_flag=True,
    help="Keep the ledger in main itself, which the apply job then pushes to: for "
    "repositories without branch protection.",
)
@click.option(
    "--action",
    metavar="OWNER/REPO@REF",
    help=f"The reconciler release the workflows and pre-commit use (default: {DEFAULT_ACTION}).",
)
@click.option("--force", is_flag=True, help="Replace files that exist and differ.")
@click.pass_context
def command(
    ctx: click.Context,
    directory: Path | None,
    org_id: str | None,
    sandbox: str | None,
    ledger_branch: str | None,
    ledger_in_tree: bool,
    action: str | None,
    force: bool,
) -> None:
    """Start a repository of privacy requests in DIR (default: here).

    Writes reconciler.yaml, one example request of each kind with the JSON
    schemas they name, the GitHub workflows that check pull requests, apply
    merges and refresh statuses, a pre-commit configuration, a CODEOWNERS
    template and a .gitignore. Never prompts. Files that exist and differ
    are listed and nothing is written, unless --force; running it again
    changes nothing. Secrets are never written: they come from the
    environment (ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET).

    \b
    Example:
      reconciler init privacy-requests --org-id 0123456789ABCDEF01234567@AdobeOrg \\
          --sandbox prod
    """
    root: Path = ctx.obj["cwd"]
    target = root if directory is None else root / directory
    options = starter.make_options(
        scope=starter.scope_for(target),
        org_id=org_id,
        sandbox=sandbox,
        ledger_branch=ledger_branch,
        ledger_in_tree=ledger_in_tree,
        action=action,
    )
    files = starter.starter_files(options)
    outcome = install.write_starter(target, files, force=force, display_root=root)
    if not outcome.changed:
        click.echo("nothing to do: every file is already as init writes it")
        ctx.exit(0)
    for written in outcome.changed:
        verb = "replaced" if written.change is install.Change.REPLACE else "wrote"
        click.echo(f"{verb} {display_path(outcome.directory / written.path, root)}")
    kept = len(outcome.files) - len(outcome.changed)
    if kept:
        unit = "file" if kept == 1 else "files"
        click.echo(f"left {kept} {unit} as they were: already as init writes them")
    note = install.git_note(outcome, root)
    if note:
        click.echo(f"note: {note}", err=True)
    click.echo("next steps:")
    for number, step in enumerate(install.next_steps(outcome, options, root), start=1):
        click.echo(f"  {number}. {step}")
    ctx.exit(0)
