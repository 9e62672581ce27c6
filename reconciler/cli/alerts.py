"""``reconciler alerts``: the applied requests that need a person, and their GitHub issues."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.git.ledgerbranch import attach, load_ledger
from reconciler.github.issues import sync_issues
from reconciler.reconcile.alerts import alerts
from reconciler.reconcile.lifecycle import FAIL_ON, entry_deadlines, retries
from reconciler.settings import load_settings


@click.command("alerts")
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(sorted(FAIL_ON)),
    default="overdue",
    show_default=True,
    help="Besides requests Adobe failed or no longer has: overdue ones (overdue), or also "
    "those within deadlines.atRiskDays of their due date (at-risk); failed: failures only.",
)
@click.option(
    "--github",
    is_flag=True,
    help="Keep one GitHub issue per alert (label reconciler-alert): open it, update it, close "
    "it once resolved. Reads GITHUB_TOKEN (issues: write) and GITHUB_REPOSITORY.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def command(ctx: click.Context, fail_on: str, github: bool, fmt: str) -> None:
    """List the applied requests that need a person: failed at Adobe (and not retried with
    metadata.retryOf), or past their deadline. From the ledger as `status` last recorded
    it; nothing is asked of Adobe. No identity is in any alert.

    Exit codes: 0 when there is none, or with --github once the issues are kept (they are
    the alarm); 1 when there are alerts.

    \b
    Example:
      reconciler alerts --fail-on at-risk
      GITHUB_TOKEN=... GITHUB_REPOSITORY=owner/repo reconciler alerts --github
    """
    root: Path = ctx.obj["root"]
    settings = attach(load_settings(root, os.environ))
    ledger = load_ledger(settings)
    today = datetime.now(UTC).date()
    deadlines = entry_deadlines(settings.root, list(ledger), today, settings.at_risk_days)
    retried = retries(settings.requests_path, settings.root)
    found = alerts(ledger, deadlines, retried, FAIL_ON[fail_on])
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "alerts": [a.to_json() for a in found]}, indent=2))
    else:
        for alert in found:
            click.echo(alert.title.removeprefix("reconciler: "))
        if not found:
            click.echo("No alerts: no applied request failed or is late.")
    if github:
        synced = sync_issues(found, os.environ)
        click.echo(f"GitHub issues: {synced}", err=fmt == "json")
        return
    if found:
        ctx.exit(1)
