"""A hostile server at the apply level (the client's own answers-parsing has unit tests in
``tests/adobe/``): a create answered with something unreadable must end as a clear failure
with no ledger entry, and the next apply, against a sane server, must look for the request's
tag before it creates anything, so that whatever did happen happens only once."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.adobe import AdobeClient
from reconciler.reconcile.applier import Applier, ApplyResult
from reconciler.reconcile.planner import plan_changes
from reconciler.reconcile.remote import adobe_config, fetch_remote_state
from reconciler.reconcile.workspace import open_workspace
from tests.campaigns.hostile import HostileGateway, Rule
from tests.campaigns.support import JOB, RECORD, audit, declare
from tests.conftest import RECORD_DELETE, git, tagged_counts, write, writes

WORKORDER = "/data/core/hygiene/workorder"
JOBS = "/data/core/privacy/jobs"
ANSWERS = ("not-json", "wrong-type", "truncated", "slow")
OUTCOMES: dict[str, Any] = {}


def calls_since(adobe: Any, mark: int) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in adobe.admin.requests() if r["seq"] > mark]


def last_seq(adobe: Any) -> int:
    log = adobe.admin.requests()
    return int(log[-1]["seq"]) if log else 0


def test_create_answered_with_html_fails_clearly_and_the_next_apply_looks_first(
    run, adobe, repo: Path, monkeypatch: pytest.MonkeyPatch, figures
) -> None:
    write(repo, "requests/hostile-a.yaml", RECORD_DELETE.format(name="hostile-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    rule = Rule("POST", WORKORDER, "not-json", forward=False)
    with HostileGateway(adobe.url, (rule,)) as gateway:
        monkeypatch.setenv("ADOBE_PLATFORM_URL", gateway.url)
        result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert "? create hostile-a: pending verification: sent, outcome unknown" in result.output
    assert "1 pending verification, 0 failed" in result.output
    assert "Traceback" not in result.output and "<html>" not in result.output
    assert gateway.spoilt == [("POST", WORKORDER, "not-json")]  # sent once, not again
    assert not (repo / "ledger" / "hostile-a.json").exists()
    assert (repo / "ledger" / "intents" / "hostile-a.json").exists()

    monkeypatch.setenv("ADOBE_PLATFORM_URL", adobe.url)
    held = run("-C", str(repo), "apply", "--auto-approve")
    assert held.exit_code == 0, held.output
    assert "? pending-verification RecordDelete      hostile-a" in held.output
    mark = last_seq(adobe)
    again = run("-C", str(repo), "apply", "--auto-approve", "--resend", "hostile-a")
    assert again.exit_code == 0, again.output
    assert "1 created" in again.output
    on_workorders = [c for c in calls_since(adobe, mark) if c[1] == WORKORDER]
    # The plan's tagged listing, the listing without search over the days since it was
    # sent, the tag lookup, and only then the create.
    assert on_workorders == [("GET", WORKORDER)] * 3 + [("POST", WORKORDER)]
    assert tagged_counts(adobe) == {"hostile-a": 1}
    found = audit(adobe, repo, {"hostile-a": RECORD})
    assert found.clean, found
    figures(
        "hostile (CLI)",
        {
            "answer": "200 with an HTML body to POST /workorder",
            "exit": result.exit_code,
            "pending_verification_after": True,
            "ledger_entry_after": False,
            "next_apply_calls_on_workorder": [m for m, _ in on_workorders],
            **found.figures(),
        },
    )


def test_unreadable_listing_stops_apply_before_anything_is_sent(
    run, adobe, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "requests/hostile-b.yaml", RECORD_DELETE.format(name="hostile-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    rule = Rule("GET", WORKORDER, "wrong-type", forward=True)
    with HostileGateway(adobe.url, (rule,)) as gateway:
        monkeypatch.setenv("ADOBE_PLATFORM_URL", gateway.url)
        result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 1
    assert "expected a JSON answer, got type text/html" in result.output
    assert "Traceback" not in result.output
    assert gateway.spoilt == [("GET", WORKORDER, "wrong-type")]  # not retried: not transient
    assert writes(adobe) == []
    assert not (repo / "ledger").exists()


def apply_through(repo: Path, env: dict[str, str]) -> ApplyResult:
    """What `apply --auto-approve` does, with a 1 s attempt deadline and no recovery waits."""
    ws = open_workspace(repo, env)
    config = adobe_config(ws.settings, env).with_changes(attempt_deadline=1.0)
    today = datetime.now(UTC).date()
    with AdobeClient(config) as client:
        remote = fetch_remote_state(client, ws.requests, ws.ledger, today)
        plan = plan_changes(ws.requests, ws.ledger, remote)
        applier = Applier(client, ws.ledger, ws.by_name, today=lambda: today, sleep=lambda _: None)
        return applier.apply(plan)


@pytest.mark.parametrize("forward", [False, True], ids=["not-created", "created"])
@pytest.mark.parametrize("answer", ANSWERS)
def test_spoilt_create_answers(
    run, adobe, repo: Path, monkeypatch: pytest.MonkeyPatch, figures, answer: str, forward: bool
) -> None:
    declared = {n: k for n, k in declare(repo, 0, 4).items() if k in (RECORD, JOB)}
    rules = (Rule("POST", WORKORDER, answer, forward), Rule("POST", JOBS, answer, forward))
    with HostileGateway(adobe.url, rules) as gateway:
        env = {**os.environ, "ADOBE_PLATFORM_URL": gateway.url}
        result = apply_through(repo, env)
    # Each create was sent once; none was sent again in the same run.
    expected = sorted(WORKORDER if k == RECORD else JOBS for k in declared.values())
    assert sorted(p for _, p, _ in gateway.spoilt) == expected
    outcomes = {o.action.name: o for o in result.outcomes if o.action.name in declared}
    assert set(outcomes) == set(declared)
    ledger = repo / "ledger"
    for name, outcome in outcomes.items():
        if forward:  # created: found by its tag at once, recorded
            assert outcome.ok and outcome.recovered, outcome
            assert (ledger / f"{name}.json").exists()
        else:
            assert outcome.pending and "pending verification" in outcome.message, outcome
            assert not (ledger / f"{name}.json").exists()
            assert (ledger / "intents" / f"{name}.json").exists()

    # Not found by any look: sent again only when asked (or after apply.resendAfter).
    resend = [arg for n, o in outcomes.items() if o.pending for arg in ("--resend", n)]
    again = run("-C", str(repo), "apply", "--auto-approve", *resend)
    assert again.exit_code == 0, again.output
    found = audit(adobe, repo, declared)
    assert found.clean, found
    OUTCOMES[f"{answer}/{'created' if forward else 'not-created'}"] = {
        "first_run_pending": sum(o.pending for o in outcomes.values()),
        "recovered_by_tag": sum(o.recovered for o in outcomes.values()),
        "duplicates": len(found.duplicates),
        "lost": len(found.lost),
    }
    figures("hostile (in process, creates spoilt)", dict(sorted(OUTCOMES.items())))
