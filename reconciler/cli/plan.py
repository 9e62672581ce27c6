"""``reconciler plan``: show what apply would do; change nothing."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.check.ledgerrules import entry_from
from reconciler.git.ledgerbranch import ledger_history
from reconciler.reconcile.ledger import Entry, atomic_write
from reconciler.reconcile.planner import Plan, RemoteState, inputs_digest, plan_changes
from reconciler.reconcile.planview import FORMATS, NOT_MATCHING, to_json
from reconciler.reconcile.quota import allot, consumes, estimate_quota, read_quota
from reconciler.reconcile.remote import fetch_remote_state
from reconciler.reconcile.workspace import Workspace, declared_times, open_workspace


def make_plan(
    ws: Workspace, offline: bool, resend: Sequence[str] = ()
) -> tuple[Plan, RemoteState | None]:
    """Plan against Adobe, or from the ledger alone when ``offline``. ``resend`` names
    requests whose create had an unknown outcome, to send again before their grace
    period (``apply.resendAfter``) has passed."""
    grace = ws.settings.resend_after
    limits = ws.settings.limits
    margin = ws.settings.at_risk_days
    sandbox = ws.settings.adobe.sandbox_name
    today = datetime.now(UTC).date()
    if offline:
        plan = plan_changes(
            ws.requests, ws.ledger, None, grace=grace, margin=margin, sandbox=sandbox
        )
        if consumes(plan):
            quota = estimate_quota(ws.ledger, limits, today)
            plan = allot(plan, quota, declared_order(ws, plan), today)
        return plan, None
    for request in ws.requests:  # a missing key is an error before any call to Adobe
        request.require_plaintext()
    with ws.client(os.environ) as client:
        remote = fetch_remote_state(client, ws.requests, ws.ledger, today, ws.settings.scope)
        history = lost_entries(ws)
        plan = plan_changes(
            ws.requests,
            ws.ledger,
            remote,
            grace=grace,
            resend=resend,
            history=history,
            margin=margin,
            sandbox=sandbox,
        )
        if consumes(plan):  # one GET /quota, only when something would consume it
            quota = read_quota(client, ws.ledger, limits, today)
            plan = allot(plan, quota, declared_order(ws, plan), today)
    return plan, remote


def declared_order(ws: Workspace, plan: Plan) -> dict[str, tuple[int, float]]:
    """The order creates get quota in: data subjects' requests by due date, earliest
    first, so that one that is due never waits behind one that is not; then the others,
    oldest declared first (when the file was added to git); requests not committed yet
    come last."""
    added = declared_times(ws.settings.root, ws.settings.requests_path)
    order: dict[str, tuple[int, float]] = {}
    for action in plan.actions:
        due = action.deadline.due_by if action.deadline else None
        if due is not None:
            order[action.name] = (0, float(due.toordinal()))
        elif action.path in added:
            order[action.name] = (1, float(added[action.path]))
    return order


def lost_entries(ws: Workspace) -> dict[str, tuple[str, Entry]]:
    """For requests not in the ledger, the newest entry of theirs git's history holds."""
    missing = [r.name for r in ws.requests if ws.ledger.get(r.name) is None]
    found = {}
    for name, (sha, data) in ledger_history(ws.settings, missing).items():
        entry = entry_from(f"{name}.json", data)
        if entry is not None:  # not a valid entry: as if there were none
            found[name] = (sha, entry)
    return found


def plan_document(ws: Workspace, plan: Plan, remote: RemoteState | None) -> str:
    salt = secrets.token_hex(16)
    digest = inputs_digest(ws.requests, ws.ledger, remote, bytes.fromhex(salt))
    return json.dumps(to_json(plan, salt, digest), indent=2, ensure_ascii=False) + "\n"


@click.command("plan")
@click.option(
    "--offline", is_flag=True, help="Plan from the ledger alone: no credentials, no calls."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan (JSON) for `reconciler apply PLANFILE`.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="text for people, markdown for a pull request's job summary, json for tools.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when Adobe matches the requests, 2 when there are changes or requests "
    "needing attention (orphaned, deferred, pending verification), 1 on error or conflict.",
)
@click.pass_context
def command(
    ctx: click.Context, offline: bool, out: Path | None, fmt: str, detailed_exitcode: bool
) -> None:
    """Compare the requests with the ledger and Adobe, and show the actions.

    Changes nothing, anywhere. Conflicts (an applied request's immutable
    fields changed) exit 1, since apply will refuse them.

    \b
    Example:
      reconciler plan --out plan.json
      reconciler plan --offline --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    ws = open_workspace(ctx.obj["root"], os.environ)
    plan, remote = make_plan(ws, offline)
    if out is not None:
        atomic_write(
            out if out.is_absolute() else ctx.obj["cwd"] / out, plan_document(ws, plan, remote)
        )
    click.echo(FORMATS[fmt](plan))
    if plan.conflicts:
        ctx.exit(1)
    # Orphans, deferrals and creates pending verification change nothing now, but are
    # not "Adobe matches the requests" either: a person (or a later run) has work.
    attention = plan.has_changes or any(plan.count(t) for t in NOT_MATCHING)
    ctx.exit(2 if detailed_exitcode and attention else 0)
