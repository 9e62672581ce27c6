"""``reconciler audit``: the history of requests, for people and for auditors."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.git.ledgerbranch import attach, load_ledger
from reconciler.reconcile.audit import RequestAudit, audit_requests, has_history
from reconciler.reconcile.deadlines import Deadline
from reconciler.reconcile.lifecycle import entry_deadlines, retries
from reconciler.reconcile.planview import printable
from reconciler.settings import load_settings

CSV_COLUMNS = ("request", "kind", "event", "date", "commit", "author", "email", "details")


@dataclass(frozen=True)
class Lifecycle:
    """What the audit adds to git's trail: deadlines, and the retryOf links both ways."""

    deadlines: Mapping[str, Deadline]
    retried_by: Mapping[str, str]  # failed request -> the one submitting it again

    def retry_of(self, name: str) -> str | None:
        return next((old for old, new in self.retried_by.items() if new == name), None)


def _table(audits: list[RequestAudit], life: Lifecycle) -> str:
    deadlines = life.deadlines
    out = []
    for a in audits:
        ids = ", ".join(a.remote_ids[:3]) + ("…" if len(a.remote_ids) > 3 else "")
        out.append(f"{a.name}  ({a.kind or '?'}, {a.path or 'file not in history'})")
        if ids:
            out.append(f"  remote: {ids}")
        if a.sandbox:
            out.append(f"  sandbox: {a.sandbox}")
        if a.name in deadlines:
            due = deadlines[a.name]
            out.append(f"  deadline: received {due.received_at}, {due} ({due.regulation})")
        if life.retry_of(a.name):
            out.append(f"  retry of: {life.retry_of(a.name)}")
        if a.name in life.retried_by:
            out.append(f"  retried by: {life.retried_by[a.name]}")
        for e in a.events:
            # An approval names a GitHub login, which has no email.
            who = f"{e.author} <{e.email}>" if e.author and e.email else e.author or ""
            sha = (e.commit or "")[:10]
            out.append(
                f"  {e.date[:19].replace('T', ' ')}  {e.event:<9} {sha:<10}  {who}"
                f"\n      {printable(e.details, 200)}"
            )
        out.append("")
    return "\n".join(out).rstrip()


def _json(audits: list[RequestAudit], life: Lifecycle) -> str:
    deadlines = life.deadlines
    return json.dumps(
        {
            "version": 1,
            "requests": [
                {
                    "name": a.name,
                    "kind": a.kind,
                    "path": a.path,
                    "remoteIds": list(a.remote_ids),
                    "sandbox": a.sandbox,
                    "orgId": a.org_id,
                    "deadline": deadlines[a.name].to_json() if a.name in deadlines else None,
                    "retryOf": life.retry_of(a.name),
                    "retriedBy": life.retried_by.get(a.name),
                    "events": [
                        {
                            "event": e.event,
                            "date": e.date,
                            "commit": e.commit,
                            "author": e.author,
                            "email": e.email,
                            "details": e.details,
                            "pullRequest": e.pull_request,
                        }
                        for e in a.events
                    ],
                }
                for a in audits
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def _csv(audits: list[RequestAudit], life: Lifecycle) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in audits:
        for e in a.events:
            writer.writerow(
                [
                    a.name,
                    a.kind,
                    e.event,
                    e.date,
                    e.commit or "",
                    e.author or "",
                    e.email or "",
                    e.details,
                ]
            )
    return buffer.getvalue().rstrip("\n")


FORMATS = {"table": _table, "json": _json, "csv": _csv}


@click.command("audit")
@click.argument("names", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="table",
    show_default=True,
    help="table for people; json and csv are stable, for auditors.",
)
@click.pass_context
def command(ctx: click.Context, names: tuple[str, ...], fmt: str) -> None:
    """Show who declared, changed, merged, approved and applied each request, and its statuses.

    From git history and the ledger; with no NAME, every request. Paths are
    shown as they are, whatever characters they hold.

    Before the first commit there is no history yet: with no NAME, the trail
    is empty (exit 0, a note on stderr; json and csv still print their
    frame); a NAME is an error (exit 1), as for any request never committed.

    \b
    Columns (csv) / fields (json), stable:
      request, kind, event, date, commit, author, email, details
    Events: declared, changed, removed, merged, approved, applied, recovered,
    imported, updated, status. json also gives each event's pullRequest: the
    number a merge commit's subject names (merged), or the pull request a review
    approved (approved, recorded by apply --approvals); null otherwise.

    \b
    Example:
      reconciler audit jira-12345
      reconciler audit --format csv > audit.csv
    """
    root: Path = ctx.obj["root"]
    settings = attach(load_settings(root, os.environ))
    audits = audit_requests(settings, names)
    if not audits and not names and not has_history(settings):
        click.echo("no commits yet: the audit trail starts with the first commit", err=True)
        if fmt == "table":
            return
    # The deadline of each applied data subject's request (csv keeps its stable columns).
    ledger = load_ledger(settings)
    entries = [e for e in (ledger.get(a.name) for a in audits) if e is not None]
    today = datetime.now(UTC).date()
    deadlines = entry_deadlines(settings.root, entries, today, settings.at_risk_days)
    retried = retries(settings.requests_path, settings.root)
    click.echo(FORMATS[fmt](audits, Lifecycle(deadlines, retried)))
