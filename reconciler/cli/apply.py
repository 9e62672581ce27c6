"""``reconciler apply``: make Adobe match the requests, recording each result."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from reconciler.cli.plan import lost_entries, make_plan
from reconciler.cli.progress import progress_bar
from reconciler.git.ledgerbranch import attach
from reconciler.git.publish import (
    Unreviewed,
    commit_ledger,
    commit_message,
    describe_push,
    pull,
    push_target,
    take_lease,
    unreviewed,
)
from reconciler.git.publish import push as push_branch
from reconciler.reconcile.applier import (
    Applier,
    ApplyRefused,
    ApplyResult,
    Outcome,
    check_plan,
)
from reconciler.reconcile.approvals import Approvals, describe, load_approvals, unapproved
from reconciler.reconcile.lock import repository_lock
from reconciler.reconcile.planner import ActionType, Plan, RemoteState, inputs_digest
from reconciler.reconcile.planview import PLAN_VERSION, printable, text
from reconciler.reconcile.resolve import adobe_resolver
from reconciler.reconcile.workspace import Workspace, last_commits, open_workspace
from reconciler.settings import Settings, load_settings

ALLOW_FLAG = "--allow-unreviewed"


def _read_plan_file(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApplyRefused(f"{path}: not a readable plan file ({e.__class__.__name__})") from None
    ok = (
        isinstance(doc, dict)
        and doc.get("version") == PLAN_VERSION
        and doc.get("kind") == "reconciler-plan"
        and isinstance(doc.get("inputs"), dict)
        and isinstance(doc["inputs"].get("salt"), str)
        and isinstance(doc["inputs"].get("digest"), str)
        and isinstance(doc.get("actions"), list)
    )
    if not ok:
        raise ApplyRefused(f"{path}: not a plan file written by `reconciler plan --out`")
    if not doc.get("online"):
        raise ApplyRefused(f"{path}: an offline plan cannot be applied; run `reconciler plan`")
    checked: dict[str, Any] = doc
    return checked


def _check_fresh(
    doc: dict[str, Any], ws: Workspace, plan: Plan, remote: RemoteState | None
) -> None:
    try:
        salt = bytes.fromhex(doc["inputs"]["salt"])
    except ValueError:
        raise ApplyRefused("the plan file was altered: its salt is not hex") from None
    digest = inputs_digest(ws.requests, ws.ledger, remote, salt)
    if digest != doc["inputs"]["digest"]:
        raise ApplyRefused(
            "the plan is stale: the requests, the ledger or Adobe changed since it was made; "
            "run `reconciler plan` again. Nothing was applied"
        )
    deferred = {a.name for a in plan.actions if a.type is ActionType.DEFER}
    was = {a.get("name") for a in doc["actions"] if a.get("action") == ActionType.DEFER.value}
    if deferred != was:
        raise ApplyRefused(
            "the plan is stale: what Adobe's quotas leave room for changed since it was made "
            f"({len(deferred)} request(s) would wait now, {len(was)} in the plan); run "
            "`reconciler plan` again. Nothing was applied"
        )

    # A deadline's days left move with the day, not with the inputs.
    def steps(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in a.items() if k != "deadline"} for a in actions]

    if steps(doc["actions"]) != steps([a.to_json() for a in plan.actions]):
        raise ApplyRefused(
            "the plan file's actions differ from what its inputs give (edited by hand?); "
            "run `reconciler plan` again. Nothing was applied"
        )


def _check_reviewed(
    settings: Settings, remote: str, allow_unreviewed: bool
) -> tuple[Unreviewed, ...]:
    """What is unreviewed about the work tree, when allowed; otherwise an
    :class:`ApplyRefused` that names each reason and its fix, on one line."""
    problems = unreviewed(settings, remote)
    if problems and not allow_unreviewed:
        whats = ", and ".join(p.what for p in problems)
        fixes = " and ".join(p.fix for p in problems)
        raise ApplyRefused(
            f"refusing to apply unreviewed state: {whats}; {fixes}, or pass {ALLOW_FLAG} "
            "to test locally. Nothing was applied"
        )
    return problems


# From this many creates on (or any delete from every dataset), the count must be typed.
TYPED_CONFIRMATION = 10


def _confirm(plan: Plan) -> None:
    """Ask before applying, with the totals restated at the prompt (the plan above may have
    scrolled away); a large or every-dataset plan needs its count typed, not one key."""
    creates = [a for a in plan.actions if a.type is ActionType.CREATE]
    every = sum(1 for a in creates if a.target == "dataset ALL")
    also = [
        f"{plan.count(t)} to {t.value}"
        for t in (ActionType.UPDATE, ActionType.CANCEL, ActionType.ADOPT)
        if plan.count(t)
    ]
    click.echo(
        f"\nThis apply creates {len(creates)} request(s) at Adobe, submitting "
        f"{plan.identities_to_submit:,} identities"
        + (f", {every} of them deleting from EVERY dataset of the sandbox" if every else "")
        + (f"; and {', '.join(also)}" if also else "")
        + ". A deletion cannot be undone."
    )
    if len(creates) < TYPED_CONFIRMATION and not every:
        click.confirm("Apply these changes at Adobe?", abort=True)
        return
    typed = click.prompt(
        f"Type {len(creates)}, the number of requests to create, to apply",
        default="",
        show_default=False,
    )
    if typed.strip() != str(len(creates)):
        raise ApplyRefused(f"not confirmed ({len(creates)} was not typed); nothing was applied")


def _no_guard() -> None:
    """Without --push, no lease can be lost."""


def _declaring_commits(ws: Workspace, reviewed: bool) -> dict[str, str]:
    """The commit that last changed each request file, by path; none for an unreviewed
    apply: its files are not what was merged."""
    return last_commits(ws.settings.root, ws.settings.requests_path) if reviewed else {}


def _check_approved(
    ws: Workspace, plan: Plan, approvals: Approvals | None, commits: dict[str, str]
) -> None:
    """policy.requireApproval: refuse the whole run, before anything is sent, when a
    request to create came in no pull request of ``approvals`` or in one nobody but its
    author approved."""
    if not ws.settings.require_approval:
        return
    creates = [
        (a.name, commits.get(ws.by_name[a.name].path))
        for a in plan.actions
        if a.type is ActionType.CREATE
    ]
    refused = unapproved(creates, approvals)
    if refused:
        raise ApplyRefused(
            f"policy.requireApproval: refusing to create {len(refused)} request(s) without "
            f"an approval by someone other than their pull request's author: "
            f"{describe(refused)}; merge them through a pull request that another person "
            "approves, and pass the pull requests' reviews with --approvals FILE (the apply "
            "workflow writes it). Nothing was applied"
        )


def _recorder(ws: Workspace, approvals: Approvals | None) -> Callable[[Outcome], None]:
    """What records, in the entry of each request created or adopted, the pull request
    that brought its declaring commit: rewritten as soon as the applier has written it."""
    lock = threading.Lock()

    def record(outcome: Outcome) -> None:
        if approvals is None or not outcome.ok or outcome.pending:
            return
        if outcome.action.type not in (ActionType.CREATE, ActionType.ADOPT):
            return
        with lock:
            entry = ws.ledger.get(outcome.action.name)
            approval = None if entry is None else approvals.approval(entry.declared_in)
            if entry is not None and approval is not None and entry.approval != approval:
                ws.ledger.put(replace(entry, approval=approval))

    return record


def _run(
    ws: Workspace,
    plan: Plan,
    commits: dict[str, str],
    publish: Callable[[int], None],
    guard: Callable[[], None],
    record: Callable[[Outcome], None],
    committing: bool = False,
) -> ApplyResult:
    """Apply ``plan``; ``publish`` is called with the number of intents written before
    anything is sent (to commit and push them first), ``guard`` before each create (it
    raises when the remote lease was lost), ``record`` after each outcome is in the
    ledger."""
    todo = sum(1 for a in plan.actions if a.is_change)
    with ws.client(os.environ) as client:
        applier = Applier(
            client,
            ws.ledger,
            ws.by_name,
            today=lambda: datetime.now(UTC).date(),
            declared_in=lambda r: commits.get(r.path),
            history=lost_entries(ws),
            guard=guard,
            scope=ws.settings.scope,
            batch=ws.settings.batch_privacy_jobs,
        )
        publish(applier.declare(plan))
        finished: list[Outcome] = []
        with progress_bar(todo, "applying") as advance:

            def done(outcome: Outcome) -> None:
                record(outcome)
                finished.append(outcome)
                advance()

            try:
                return applier.apply(plan, on_outcome=done)
            except KeyboardInterrupt:
                _interrupted(finished, todo, committing)
                raise


def _interrupted(finished: Sequence[Outcome], todo: int, committing: bool) -> None:
    """What an interrupted apply leaves: how far it got, and what to run next."""
    ok = sum(1 for o in finished if o.ok and not o.pending)
    click.echo(
        f"\ninterrupted after {len(finished)} of {todo} action(s) ({ok} done): each result "
        "is in the ledger. Every create of this run had its intent written before anything "
        "was sent, so the next run looks for the others at Adobe and shows those it does "
        "not find as pending-verification until apply.resendAfter (or `--resend NAME`).",
        err=True,
    )
    if committing:
        click.echo(
            "The ledger files of this run are not committed: run `reconciler apply --commit` "
            "again; it commits them first and sends nothing twice.",
            err=True,
        )


def _check_resend(ws: Workspace, names: Sequence[str]) -> None:
    for name in names:
        if ws.ledger.intent(name) is None or ws.ledger.get(name) is not None:
            raise ApplyRefused(
                f"--resend {name}: no create of {name!r} with an unknown outcome is waiting "
                "(only a request the plan shows as pending-verification can be sent again); "
                "nothing was applied"
            )


def _short(result: ApplyResult, deferred: int) -> str:
    parts = [
        f"{result.count(t)} {t.value}d"
        for t in (ActionType.CREATE, ActionType.UPDATE)
        if result.count(t)
    ]
    if result.count(ActionType.CANCEL):
        parts.append(f"{result.count(ActionType.CANCEL)} cancelled")
    if result.count(ActionType.ADOPT):
        parts.append(f"{result.count(ActionType.ADOPT)} adopted")
    if result.pending:
        parts.append(f"{len(result.pending)} pending verification")
    if deferred:
        parts.append(f"{deferred} deferred")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    # A commit is made only when ledger files changed: with no outcome of this run, they
    # are what an earlier, interrupted run wrote (the body counts them).
    return ", ".join(parts) or "what an earlier run wrote"


def _summary(result: ApplyResult, deferred: int) -> str:
    recovered = sum(1 for o in result.outcomes if o.ok and o.recovered)
    found_instead = sum(
        1 for o in result.outcomes if o.ok and o.recovered and o.action.type is ActionType.CREATE
    )
    parts = [
        f"{result.count(ActionType.CREATE) - found_instead} created",
        f"{result.count(ActionType.UPDATE)} updated",
    ]
    if result.count(ActionType.CANCEL):
        parts.append(f"{result.count(ActionType.CANCEL)} cancelled")
    if recovered:
        parts.append(f"{recovered} found at Adobe and recorded")
    if result.pending:
        parts.append(f"{len(result.pending)} pending verification")
    if deferred:
        parts.append(f"{deferred} deferred (quota)")
    parts.append(f"{len(result.failed)} failed")
    return "Apply complete: " + ", ".join(parts) + "."


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for CI).")
@click.option(
    "--commit",
    "commit",
    is_flag=True,
    help="Commit the ledger changes to git (bot identity, names and remote ids only).",
)
@click.option(
    "--push",
    is_flag=True,
    help="Implies --commit: hold a lease on the remote so no other clone applies at the same "
    "time, pull the ledger first, and push the ledger commit (to the ledger branch when "
    "reconciler.yaml names one, else to apply.branch, main by default, which must be the one "
    "checked out). A token in LEDGER_PUSH_TOKEN is used for the remote when set.",
)
@click.option(
    "--remote",
    default="origin",
    show_default=True,
    help="The remote for --push, and whose copy of the branch a clone must not be behind.",
)
@click.option(
    ALLOW_FLAG,
    "allow_unreviewed",
    is_flag=True,
    help="Apply even though this is not reviewed state (another branch, a detached HEAD, "
    "request files or reconciler.yaml not committed, a clone behind its remote, no git "
    "repository): for testing locally, against a sandbox. Warns, and the ledger entries "
    "it writes name no declaring commit (declaredIn null).",
)
@click.option(
    "--max-identities",
    type=click.IntRange(min=0),
    help="Allow this run to submit up to N identities (default: limits.maxIdentitiesPerRun).",
)
@click.option(
    "--resend",
    "resend",
    multiple=True,
    metavar="NAME",
    help="Send NAME again now although an earlier create's outcome is unknown and its grace "
    "period (apply.resendAfter) has not passed: only after checking in Adobe's UI that it "
    "is not there. Repeat for several requests.",
)
@click.option(
    "--approvals",
    "approvals_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The pull requests that brought the requests and their reviews "
    "(schemas/approvals.schema.json; the apply workflow writes it from GitHub): who "
    "approved each request created is recorded in its ledger entry. Needed to create "
    "anything under policy.requireApproval.",
)
@click.pass_context
def command(
    ctx: click.Context,
    planfile: Path | None,
    auto_approve: bool,
    commit: bool,
    push: bool,
    remote: str,
    allow_unreviewed: bool,
    max_identities: int | None,
    resend: tuple[str, ...],
    approvals_file: Path | None,
) -> None:
    """Create what is missing at Adobe and update what differs.

    Without PLANFILE, plans first and asks for confirmation. With PLANFILE
    (from `reconciler plan --out`), applies exactly that plan, and refuses it
    when anything changed since it was made. Each result is written to the
    ledger as it lands, so a killed run resumes where it stopped.

    Applies only reviewed state: apply.branch (main) checked out, its request
    files and reconciler.yaml committed, not behind its remote-tracking
    branch. Anything else is refused unless --allow-unreviewed is given.

    \b
    Example:
      reconciler plan --out plan.json && reconciler apply plan.json
      reconciler apply --auto-approve
    """
    root: Path = ctx.obj["root"]
    doc = (
        _read_plan_file(planfile if planfile.is_absolute() else ctx.obj["cwd"] / planfile)
        if planfile
        else None
    )
    approvals = None
    if approvals_file is not None:
        where = approvals_file if approvals_file.is_absolute() else ctx.obj["cwd"] / approvals_file
        approvals = load_approvals(where, str(approvals_file))
    with repository_lock(root) as takeover, ExitStack() as stack:
        if takeover:
            click.echo(f"note: {takeover}", err=True)
        loaded = load_settings(root, os.environ)
        problems = _check_reviewed(loaded, remote, allow_unreviewed)
        if push:
            push_target(loaded)
        reasons = ", and ".join(p.what for p in problems)
        if problems:
            click.echo(
                f"warning: {ALLOW_FLAG}: applying unreviewed state: {reasons}; its ledger "
                "entries record no declaring commit (declaredIn null)",
                err=True,
            )
        settings = attach(loaded, remote)
        resolve = adobe_resolver(settings, os.environ)
        guard: Callable[[], None] = _no_guard
        if push:
            lease = stack.enter_context(take_lease(settings, remote, env=os.environ))
            if lease.takeover:
                click.echo(f"note: {lease.takeover}", err=True)
            guard = lease.check
            pull(settings, remote, os.environ, resolve=resolve)
        ws = open_workspace(root, os.environ, settings)
        _check_resend(ws, resend)
        plan, remote_state = make_plan(ws, offline=False, resend=resend)
        if doc is not None:
            _check_fresh(doc, ws, plan, remote_state)
        check_plan(
            plan,
            max_identities
            if max_identities is not None
            else ws.settings.limits.max_identities_per_run,
        )
        commits = _declaring_commits(ws, not problems)
        _check_approved(ws, plan, approvals, commits)
        click.echo(text(plan))
        result = ApplyResult(())
        deferred = plan.count(ActionType.DEFER)
        if plan.has_changes:
            if doc is None and not auto_approve:
                if not sys.stdin.isatty():
                    raise ApplyRefused(
                        "refusing to apply without confirmation: input is not a terminal. "
                        "Pass --auto-approve, or apply a saved plan file"
                    )
                _confirm(plan)

            def publish(intents: int) -> None:
                # The intents reach the remote before any create is sent: a clone that
                # takes over after this run dies knows what may be at Adobe already.
                if not intents or not (commit or push):
                    return
                subject = f"reconciler apply: about to create {intents} request(s)"
                if commit_ledger(ws.settings, commit_message(subject, []), os.environ) and push:
                    guard()
                    push_branch(ws.settings, remote, os.environ, resolve=resolve)

            result = _run(
                ws, plan, commits, publish, guard, _recorder(ws, approvals), commit or push
            )
            deferred += len(result.deferred)  # refused by Adobe for its quota after all
            click.echo("")
            for outcome in result.outcomes:
                mark = (
                    "?"
                    if outcome.pending
                    else ">"
                    if outcome.deferred
                    else "✓"
                    if outcome.ok
                    else "✗"
                )
                a = outcome.action
                message = printable(outcome.message, 300)
                click.echo(f"  {mark} {a.type.value:<6} {a.name}: {message}")
            click.echo(_summary(result, deferred))
        if commit or push:
            # Also commits entries a killed earlier run wrote but did not commit.
            lines = [
                f"{'pending-verification' if o.pending else o.action.type.value} {o.action.name}"
                + (f" {', '.join(o.remote_ids[:5])}" if o.remote_ids else "")
                + (f" (+{len(o.remote_ids) - 5} more)" if len(o.remote_ids) > 5 else "")
                for o in result.outcomes
                if o.ok and not o.deferred
            ]
            lines += [f"deferred {o.action.name} (refused for quota)" for o in result.deferred]
            lines += [
                f"deferred {a.name} (quota)" for a in plan.actions if a.type is ActionType.DEFER
            ]
            subject = f"reconciler apply: {_short(result, deferred)}"
            if problems:
                subject += " (unreviewed)"
                lines.insert(0, f"Unreviewed ({ALLOW_FLAG}): {reasons}")
            sha = commit_ledger(ws.settings, commit_message(subject, lines), os.environ)
            click.echo(
                f"Ledger committed: {sha[:12]}" if sha else "Ledger unchanged: nothing to commit"
            )
        if push:
            pushed = push_branch(ws.settings, remote, os.environ, resolve=resolve)
            click.echo(describe_push(ws.settings, remote, pushed))
    if result.pending:
        click.echo(
            f"{len(result.pending)} request(s) pending verification: sent, but Adobe's answer "
            "was lost or not believable and nothing carrying their tag is visible yet. They "
            "are not sent again until apply.resendAfter has passed; the next runs look for "
            "them first.",
            err=True,
        )
    if deferred:
        click.echo(
            f"{deferred} request(s) deferred: they do not fit what remains of Adobe's quota "
            "(or the budget in limits) now; a later run applies them, earliest first, without "
            "anyone touching them (the scheduled workflow runs apply).",
            err=True,
        )
    if not result.success:
        click.echo(
            f"{len(result.failed)} action(s) failed; what succeeded is in the ledger. "
            "Fix the cause shown and run apply again: it resumes without repeating anything.",
            err=True,
        )
        ctx.exit(1)
