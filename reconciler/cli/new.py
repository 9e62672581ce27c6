"""``reconciler new``: scaffold a request file, from a template or a CSV of identities."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.check.validation import display_path
from reconciler.errors import ReconcilerError
from reconciler.git.ledgerbranch import attach
from reconciler.scaffold import csvids
from reconciler.scaffold import files as scaffold
from reconciler.scaffold import options as newoptions
from reconciler.settings import load_settings

MAX_PROBLEMS_SHOWN = 20


def _read_csv(root: Path, path: Path) -> csvids.CsvIdentities:
    if str(path) == "-":
        raw, source = sys.stdin.buffer.read(), "<stdin>"
    else:
        resolved = path if path.is_absolute() else root / path
        source = str(path)
        try:
            raw = resolved.read_bytes()
        except OSError as e:
            raise ReconcilerError(f"cannot read {source}: {e.strerror or e}") from None
    return csvids.read_csv(source, raw)


_IDENTITY = ("identity", "identities")


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _describe(planned: scaffold.PlannedFile) -> str:
    """Counts and namespaces of one file: never a value."""
    namespaces = ", ".join(
        ns if len(planned.namespaces) == 1 else f"{ns} {n:,}" for ns, n in planned.namespaces
    )
    users = _count(planned.users, "user", "users") + ", " if planned.users else ""
    return f"{users}{_count(planned.identities, *_IDENTITY)} ({namespaces})"


@click.command("new")
@click.argument("kind", metavar="KIND")
@click.option(
    "--name",
    required=True,
    metavar="NAME",
    help="Request name: lower-case letters, digits, hyphens.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Read identities from FILE ('-' for stdin): a header of namespace codes "
    "(email,ECID) with a column each, or a header namespace,value with one identity a row.",
)
@click.option(
    "--namespace",
    metavar="NS",
    help="Take only this namespace from the CSV; without --csv, the placeholder's "
    "namespace (default email).",
)
@click.option("--dataset", metavar="ID", help="RecordDelete: the dataset id, or ALL.")
@click.option("--display-name", metavar="TEXT", help="RecordDelete: name shown in Adobe's UI.")
@click.option("--description", metavar="TEXT", help="RecordDelete: description shown in Adobe.")
@click.option("--ticket", metavar="TEXT", help="The ticket this request answers (metadata).")
@click.option(
    "--regulation", metavar="REG", help="PrivacyJob (required): gdpr, ccpa, cpra_ca_usa, …"
)
@click.option(
    "--include",
    metavar="PRODUCT",
    multiple=True,
    help="PrivacyJob: product code, repeatable or comma-separated "
    f"(default: {', '.join(newoptions.DEFAULT_INCLUDE)}, Experience Platform's own).",
)
@click.option(
    "--action",
    "actions",
    type=click.Choice(["access", "delete"]),
    multiple=True,
    help="PrivacyJob: access, delete, or both by repeating (default: delete).",
)
@click.option(
    "--dir",
    "folder",
    metavar="SUBFOLDER",
    help="Folder under the requests folder (default: record-deletes, privacy-jobs or consent).",
)
@click.option("--force", is_flag=True, help="Replace files that exist at the same path.")
@click.pass_context
def command(
    ctx: click.Context,
    kind: str,
    name: str,
    csv_path: Path | None,
    namespace: str | None,
    dataset: str | None,
    display_name: str | None,
    description: str | None,
    ticket: str | None,
    regulation: str | None,
    include: tuple[str, ...],
    actions: tuple[str, ...],
    folder: str | None,
    force: bool,
) -> None:
    """Scaffold request files from a template or a CSV of identities.

    KIND is RecordDelete, PrivacyJob or ConsentOptOut (any case, or
    record-delete, privacy-job, consent-opt-out).

    Without --csv, the file is a template holding one placeholder identity to
    replace. With --csv, the identities are deduplicated and split into requests
    NAME-1, NAME-2, … when they exceed Adobe's limits or the repository's
    (limits.maxIdentitiesPerRequest). When reconciler.yaml lists
    encryption.recipients, the identities are written encrypted for them.
    Every file written passes
    `reconciler validate`; existing files and names are never replaced
    unless --force (and names in the ledger, never).

    \b
    Examples:
      reconciler new record-delete --name jira-12345 --dataset c48b51623ec641a2 \\
          --csv ids.csv --ticket JIRA-12345
      reconciler new privacy-job --name priv-881 --regulation gdpr \\
          --action access --action delete --csv subjects.csv
      reconciler new consent-opt-out --name ccpa-2026-11 --csv opt-outs.csv
    """
    root: Path = ctx.obj["root"]
    # The ledger is read for names already applied; outside git there is none to read.
    settings = attach(load_settings(root, os.environ), required=False)
    options = newoptions.check_options(
        newoptions.Options(
            kind=newoptions.parse_kind(kind),
            name=name,
            dataset=dataset,
            display_name=display_name,
            description=description,
            ticket=ticket,
            regulation=regulation,
            include=tuple(p.strip() for value in include for p in value.split(",") if p.strip()),
            actions=actions,
            namespace=namespace,
            folder=folder,
        )
    )
    try:
        identities = _read_csv(root, csv_path) if csv_path is not None else None
        plan = scaffold.plan_files(settings, options, identities)
    except csvids.CsvError as e:
        # Every bad row at once (up to a screenful), so one edit of the CSV fixes them all.
        for problem in e.problems[:MAX_PROBLEMS_SHOWN]:
            click.echo(f"error: {problem}", err=True)
        if e.total > MAX_PROBLEMS_SHOWN:
            click.echo(f"error: … and {e.total - MAX_PROBLEMS_SHOWN:,} more", err=True)
        click.echo("nothing written: fix the rows above and run again", err=True)
        ctx.exit(1)
    stale = scaffold.check_targets(settings, plan, options.name, force)
    scaffold.write_files(plan.files)
    if identities is not None:
        dropped = ""
        if plan.duplicates:
            unit = options.kind.new_unit or _IDENTITY
            dropped = f"; dropped {_count(plan.duplicates, *unit).replace(' ', ' duplicate ', 1)}"
        read = _count(plan.identities_read, *_IDENTITY)
        click.echo(f"read {read} from {identities.source}{dropped}")
    for planned in plan.files:
        click.echo(f"wrote {display_path(planned.path, root)}: {_describe(planned)}")
    if plan.recipients:
        click.echo(
            f"identities encrypted for {_count(plan.recipients, 'recipient', 'recipients')} "
            "(encryption.recipients in reconciler.yaml)"
        )
    if plan.limits:
        click.echo(f"split into {len(plan.files)} requests: {plan.limits}")
    for path in stale:
        click.echo(
            f"note: {display_path(path, root)} from an earlier run was left as is; "
            "delete it if it belongs to this request",
        )
    if plan.placeholder:
        click.echo("edit: replace the placeholder identity (marked PLACEHOLDER) with real ones")
        if settings.age_recipients or not settings.allow_cleartext_identities:
            click.echo("then: encrypt them with `reconciler encrypt`")
    click.echo("next: open a pull request; `reconciler validate` checks it")
    ctx.exit(0)
