"""``reconciler status``: refresh remote statuses into the ledger and show them."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from reconciler.adobe.outcomes import explain
from reconciler.cli.progress import progress_bar
from reconciler.errors import UsageError
from reconciler.git.ledgerbranch import attach, load_ledger
from reconciler.git.publish import commit_ledger, commit_message
from reconciler.reconcile.deadlines import Deadline, State
from reconciler.reconcile.ledger import Entry, Ledger
from reconciler.reconcile.lifecycle import FAIL_ON, entry_deadlines, failed, retries
from reconciler.reconcile.lock import repository_lock
from reconciler.reconcile.status import Refreshed, is_final, refresh, sandbox_of
from reconciler.reconcile.workspace import Workspace
from reconciler.settings import Settings, load_settings


def _products(row: Refreshed) -> str:
    pairs = row.entry.status.products if row.entry.status else ()
    if row.entry.jobs:  # one pair per job: count them by status
        counts: dict[str, int] = {}
        for _, state in pairs:
            counts[state] = counts.get(state, 0) + 1
        return f"{len(pairs)} job(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return ", ".join(f"{n}: {s}" for n, s in pairs)


def _table(rows: list[Refreshed], deadlines: Mapping[str, Deadline], default: str | None) -> str:
    lines = [
        f"{'REQUEST':<32} {'KIND':<17} {'SANDBOX':<12} {'REMOTE ID':<42} {'STATUS':<12} "
        f"{'DEADLINE':<36} PRODUCTS"
    ]
    for r in rows:
        e = r.entry
        sandbox = sandbox_of(e, default) or "-"
        rid = ", ".join(e.remote_ids[:1]) + (
            f" +{len(e.remote_ids) - 1}" if len(e.remote_ids) > 1 else ""
        )
        status = e.status.value if e.status else "-"
        if r.error:
            status += " (refresh failed)"
        products = _products(r)
        due = deadlines.get(e.name)
        shown = str(due) if due else "-"
        lines.append(
            f"{e.name:<32} {e.kind.value:<17} {sandbox:<12} {rid or '-':<42} {status:<12} "
            f"{shown:<36} {products}"
        )
    return "\n".join(lines)


def _json(rows: list[Refreshed], deadlines: Mapping[str, Deadline], default: str | None) -> str:
    return json.dumps(
        {
            "version": 1,
            "requests": [
                {
                    "name": r.entry.name,
                    "kind": r.entry.kind.value,
                    "remoteIds": list(r.entry.remote_ids),
                    "sandbox": sandbox_of(r.entry, default),
                    "orgId": r.entry.org_id,
                    "status": r.entry.status.value if r.entry.status else None,
                    "observedAt": r.entry.status.observed_at if r.entry.status else None,
                    "products": [
                        {"name": n, "status": s}
                        for n, s in (r.entry.status.products if r.entry.status else ())
                    ],
                    "changed": r.changed,
                    "error": r.error,
                    "codes": [
                        {"product": p, "code": c, "meaning": explain(c)}
                        for p, c in sorted(set(r.entry.status.codes if r.entry.status else ()))
                    ],
                    "deadline": (
                        deadlines[r.entry.name].to_json() if r.entry.name in deadlines else None
                    ),
                }
                for r in rows
            ],
        },
        indent=2,
    )


@click.command("status")
@click.argument("names", nargs=-1)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--watch",
    is_flag=True,
    help="Poll until every request reaches a final status (an apply in this repository "
    "meanwhile is refused: the watch holds the lock).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between polls with --watch.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Give up watching after this many seconds (exit 1).",
)
@click.option(
    "--all",
    "refresh_all",
    is_flag=True,
    help="Also refresh requests whose last status is final (completed, failed, complete, error).",
)
@click.option(
    "--commit", "commit", is_flag=True, help="Commit status changes in the ledger to git."
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(sorted(FAIL_ON)),
    default="failed",
    show_default=True,
    help="Exit 1 when a request failed at Adobe or is not found there (always), and also "
    "when one is overdue (overdue), or within deadlines.atRiskDays of its due date or "
    "overdue (at-risk).",
)
@click.pass_context
def command(
    ctx: click.Context,
    names: tuple[str, ...],
    fmt: str,
    watch: bool,
    interval: float,
    timeout: float | None,
    refresh_all: bool,
    commit: bool,
    fail_on: str,
) -> None:
    """Refresh the status of applied requests from Adobe into the ledger.

    Work orders report their status and each product's progress; privacy
    jobs their status per job. Consent opt-outs have no status at Adobe.
    Takes the repository's lock, as apply does (status writes the ledger):
    while an apply runs, status refuses and writes nothing.

    \b
    Example:
      reconciler status
      reconciler status jira-12345 --watch --interval 60
    """
    root: Path = ctx.obj["root"]
    with repository_lock(root, command="status") as takeover:
        if takeover:
            click.echo(f"note: {takeover}", err=True)
        settings = attach(load_settings(root, os.environ))
        ledger = load_ledger(settings)
        unknown = sorted(set(names) - set(ledger.entries))
        if unknown:
            raise UsageError(
                f"not in the ledger: {', '.join(unknown)} (only applied requests have a status)"
            )
        ws = Workspace(settings, (), ledger)
        # A final status never changes again: skip those unless asked by name or with --all.
        if names:
            wanted = [e for e in ledger if e.name in names]
        else:
            wanted = [e for e in ledger if refresh_all or not is_final(e)]
        started = time.monotonic()
        with ws.client(os.environ) as client:
            while True:
                with progress_bar(len(wanted), "refreshing") as advance:
                    rows = refresh(client, ledger, wanted, on_done=advance)
                done = all(r.final for r in rows)
                if not watch or done:
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    _show(rows, ledger, settings, fmt)
                    click.echo("gave up watching: not every request is final yet", err=True)
                    ctx.exit(1)
                if fmt == "table":  # the table as it stands, until the next poll
                    _watching(rows, ledger, settings, interval)
                time.sleep(interval)
                wanted = [r.entry for r in rows]
        deadlines = _show(rows, ledger, settings, fmt)
        if commit:
            changed = [r for r in rows if r.changed]
            lines = [
                f"{r.entry.name} {', '.join(r.entry.remote_ids[:1])} → "
                f"{r.entry.status.value if r.entry.status else '-'}"
                for r in changed
            ]
            subject = (
                f"reconciler status: {len(changed)} changed"
                if changed
                else "reconciler status: what an earlier run wrote"
            )
            sha = commit_ledger(settings, commit_message(subject, lines), os.environ)
            message = (
                f"Ledger committed: {sha[:12]}" if sha else "Ledger unchanged: nothing to commit"
            )
            click.echo(message, err=fmt == "json")
    overdue = _pending(ledger, settings.resend_after)
    retried = retries(settings.requests_path, settings.root)
    alarms = _alarms(ledger, deadlines, FAIL_ON[fail_on], retried)
    if any(r.error for r in rows) or overdue or alarms:
        ctx.exit(1)


def _watching(rows: list[Refreshed], ledger: Ledger, settings: Settings, interval: float) -> None:
    """One poll's table while watching: on a terminal in place of the last one."""
    if sys.stdout.isatty():
        click.clear()
    _show(rows, ledger, settings, "table")
    waiting = sum(1 for r in rows if not r.final)
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    click.echo(
        f"{stamp} UTC: {waiting} of {len(rows)} not final yet; next poll in {interval:g}s "
        "(Ctrl-C stops watching; the ledger keeps what was seen)"
    )


def _explained(entry: Entry) -> list[str]:
    """Why Adobe failed a request, in its words: each distinct response code with its
    meaning, and a work order's products that failed."""
    status = entry.status
    if status is None:
        return []
    lines = [f"{product}: {explain(code)}" for product, code in sorted(set(status.codes))]
    if not entry.jobs:
        lines += [f"{name}: {state}" for name, state in status.products if state == "failure"]
    return lines


def _shown_rows(rows: list[Refreshed], ledger: Ledger) -> list[Refreshed]:
    """The rows refreshed, and every failed request that was not (a final status): a
    failure stays in view until it is dealt with."""
    seen = {r.entry.name for r in rows}
    return rows + [Refreshed(e, False) for e in ledger if e.name not in seen and failed(e)]


def _show(
    rows: list[Refreshed], ledger: Ledger, settings: Settings, fmt: str
) -> dict[str, Deadline]:
    today = datetime.now(UTC).date()
    shown = _shown_rows(rows, ledger)
    deadlines = entry_deadlines(
        settings.root, [r.entry for r in shown], today, settings.at_risk_days
    )
    default = settings.adobe.sandbox_name
    if fmt == "table":
        click.echo(_table(shown, deadlines, default))
    else:
        click.echo(_json(shown, deadlines, default))
    return deadlines


def _alarms(
    ledger: Ledger,
    deadlines: Mapping[str, Deadline],
    states: frozenset[State],
    retried: Mapping[str, str],
) -> bool:
    """Say which requests failed at Adobe, and which deadlines are in ``states``; whether
    any is (``status`` then exits 1). A failed request another one submits again
    (``retryOf``) is dealt with: that one is followed instead."""
    bad = [e for e in ledger if failed(e) and e.name not in retried]
    for entry in [e for e in ledger if failed(e) and e.name in retried]:
        click.echo(
            f"retried: {entry.name} failed; {retried[entry.name]} submits it again", err=True
        )
    for entry in bad:
        value = entry.status.value if entry.status else ""
        click.echo(
            f"failed: {entry.name}: Adobe reports {value}; see `reconciler audit {entry.name}` "
            "and, once the cause is fixed, submit it again as a new request with "
            f"metadata.retryOf: {entry.name}",
            err=True,
        )
        for line in _explained(entry):
            click.echo(f"  {line}", err=True)
    late = sorted((n, d) for n, d in deadlines.items() if d.state in states)
    for name, due in late:
        click.echo(f"deadline: {name}: {due}", err=True)
    return bool(bad or late)


def _pending(ledger: Ledger, grace: timedelta) -> bool:
    """Say which creates have an unknown outcome (sent, not recorded); whether any of them
    is past its grace period, so that only an apply can settle it (it sends it again)."""
    waiting = [i for name, i in sorted(ledger.intents.items()) if ledger.get(name) is None]
    now = datetime.now(UTC)
    overdue = [i for i in waiting if i.due(now, grace)]
    for intent in waiting:
        late = " (past apply.resendAfter: run reconciler apply)" if intent in overdue else ""
        click.echo(f"pending verification: {intent.name}: {intent.describe()}{late}", err=True)
    return bool(overdue)
