"""``reconciler demo``: the whole story against the embedded emulator, in a throwaway repo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.tour import demo_environment, run_demo
from reconciler.emulator.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORG_ID,
    ClientConfig,
    EmulatorConfig,
)
from reconciler.emulator.testing import running_emulator
from reconciler.schemas import examples_dir, schema_dir


def _invoke(args: Sequence[str]) -> int:
    from reconciler.cli import cli

    try:
        code = cli.main(args=list(args), prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return code if isinstance(code, int) else 0


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run in DIR (kept afterwards) instead of a new temporary folder.",
)
def command(directory: Path | None) -> None:
    """Run the whole workflow against the embedded Adobe emulator.

    In a throwaway git repository made from the example requests (privacy
    jobs for data subjects' requests, record deletes for data cleansing): a
    pull request check that catches an erasure filed as a record delete and a
    typo, the fix, the plan with deadlines, the apply and its ledger commit,
    status refreshes, an update, and the audit trail. Nothing leaves this
    machine.

    \b
    Example:
      reconciler demo
    """
    client = ClientConfig(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID)
    with running_emulator(EmulatorConfig(clients=(client,))) as emu, demo_environment(emu.url):
        click.echo(f"Started the Adobe API emulator at {emu.url}")
        run_demo(_invoke, examples_dir(), schema_dir(), emu.admin.advance, keep=directory)
