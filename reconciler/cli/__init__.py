"""The ``reconciler`` command line: a thin click layer over the core modules.

Each command lives in its own module, parses its flags, calls the core and
returns an exit code. Errors are mapped to exit codes in one place,
:func:`main`: a :class:`~reconciler.errors.ReconcilerError` prints one line
and exits with its ``exit_code``; ^C exits 130; anything else is a bug and
exits 3 with a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from pathlib import Path

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.repository import find_root


class _Group(click.Group):
    """Maps expected failures to exit codes, for the console script and CliRunner alike.

    Commands are imported when used, so `reconciler validate` does not pay for the
    emulator's web server or the Adobe client (click's documented lazy-group pattern).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {_command_name(m) for m in COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        known = super().get_command(ctx, cmd_name)
        if known is not None:
            return known
        for module_name in COMMAND_MODULES:
            if _command_name(module_name) == cmd_name:
                module = importlib.import_module(f"reconciler.cli.{module_name}")
                command: click.Command = module.command
                self.add_command(command, cmd_name)
                return command
        return None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ReconcilerError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="reconciler")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run as if started in DIR (like git -C).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log to stderr: -v for progress, -vv for every HTTP call (never bodies or secrets).",
)
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, verbose: int) -> None:
    """Privacy requests as code for Adobe Experience Platform.

    Request files live in requests/, the record of what was applied in ledger/.
    """
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        # One line per call is ours (method, path, status, time); the HTTP libraries' own
        # debug lines (a dozen per call: connections, headers sent) are left out.
        for name in ("httpx", "httpcore", "hpack", "urllib3", "git"):
            logging.getLogger(name).setLevel(logging.WARNING)
    ctx.ensure_object(dict)
    here = (directory or Path.cwd()).resolve()
    # Where relative PATH, --out and PLANFILE arguments start, and where init starts a
    # repository; every other path is the repository's, found from any subfolder.
    ctx.obj["cwd"] = here
    ctx.obj["root"] = find_root(here)


# One module per command, each exposing a click command named `command`.
COMMAND_MODULES: tuple[str, ...] = (
    "validate",
    "plan",
    "apply",
    "status",
    "alerts",
    "audit",
    "importer",
    "demo",
    "new",
    "emulator",
    "encrypt",
    "decrypt",
    "rekey",
    "init",
    "push",
)


# Modules whose command has another name (`import` is a Python keyword).
_RENAMED = {"importer": "import"}


def _command_name(module_name: str) -> str:
    return _RENAMED.get(module_name, module_name)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Anything unexpected is a bug: traceback and exit 3."""
    try:
        cli.main(args=argv, prog_name="reconciler")
    except Exception:
        traceback.print_exc()
        click.echo("internal error: this is a bug in reconciler; please report it", err=True)
        sys.exit(3)
