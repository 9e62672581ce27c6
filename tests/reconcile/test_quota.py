"""Adobe's quotas in the plan, against an emulator with a small daily quota on its own clock:
what does not fit is deferred with its reason and date, earliest declared first, applied by
a later run once the quota resets, and nothing is ever sent over it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.config import EmulatorConfig, QuotaConfig
from reconciler.emulator.testing import running_emulator
from tests.conftest import RECORD_DELETE, git, tagged_counts, write
from tests.ledger_helpers import record_applied

HYGIENE_POSTS = ("POST", "/data/core/hygiene/workorder")


@pytest.fixture
def small_quota(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An emulator whose organisation may delete 5 identities a day and 20 a month, its
    clock at 01:00 GMT on the 2nd of next month (so tomorrow is the same month)."""
    config = EmulatorConfig(quotas=QuotaConfig(daily_identities=5, monthly_identities=20))
    with running_emulator(config) as emu:
        now = datetime.fromtimestamp(emu.admin.clock()["epoch"], UTC)
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        emu.admin.advance(datetime(year, month, 2, 1, tzinfo=UTC).timestamp() - now.timestamp())
        for key, value in emu.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ADOBE_SANDBOX_NAME", "prod")
        yield emu


def declare(repo: Path, monkeypatch: pytest.MonkeyPatch, when: str, *names: str) -> None:
    """Commit request files (two identities each) with a commit date of ``when``."""
    for name in names:
        write(repo, f"requests/{name}.yaml", RECORD_DELETE.format(name=name))
    monkeypatch.setenv("GIT_COMMITTER_DATE", when)
    monkeypatch.setenv("GIT_AUTHOR_DATE", when)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"declare {' '.join(names)}")


def posts(emu: Any) -> int:
    return sum(1 for r in emu.admin.requests() if (r["method"], r["path"]) == HYGIENE_POSTS)


def apply(run, repo: Path):
    return run("-C", str(repo), "apply", "--auto-approve", "--commit")


def plan_json(run, repo: Path, *args: str) -> dict[str, Any]:
    result = run("-C", str(repo), "plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_what_does_not_fit_today_waits_for_tomorrow(
    run, small_quota, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # req-d was declared first: it goes before req-a, whatever the names.
    declare(repo, monkeypatch, "2026-11-01T10:00:00Z", "req-d")
    declare(repo, monkeypatch, "2026-11-20T10:00:00Z", "req-a", "req-b", "req-c")

    doc = plan_json(run, repo)
    actions = {a["name"]: a for a in doc["actions"]}
    assert {n: a["action"] for n, a in actions.items()} == {
        "req-a": "create",
        "req-b": "defer",
        "req-c": "defer",
        "req-d": "create",
    }
    assert actions["req-b"]["reason"].startswith(
        "deferred: needs 2 of identities today, 1 left of 5; can go from "
    )
    assert (
        "(the daily quota resets at 00:00 GMT), applied by a later run"
        in (actions["req-b"]["reason"])
    )
    # req-c would fit in what is left (1 < 2, no): it waits behind req-b either way.
    assert actions["req-c"]["reason"].startswith(
        "deferred: waits behind req-b, which goes first for identities today"
    )
    quotas = {q["name"]: q for q in doc["quota"]["quotas"]}
    assert doc["quota"]["source"] == "Adobe"
    assert quotas["dailyConsumerDeleteIdentitiesQuota"] == {
        "name": "dailyConsumerDeleteIdentitiesQuota",
        "consumed": 0,
        "limit": 5,
        "adobeLimit": 5,
        "budget": None,
        "plan": 4,
        "remaining": 1,
    }
    assert doc["summary"]["defer"] == 2 and doc["summary"]["identitiesToSubmit"] == 4

    first = apply(run, repo)
    assert first.exit_code == 0, first.output
    assert "Apply complete: 2 created, 0 updated, 2 deferred (quota), 0 failed." in first.output
    assert "2 request(s) deferred" in first.output
    assert tagged_counts(small_quota) == {"req-a": 1, "req-d": 1}
    assert posts(small_quota) == 2  # nothing was sent over the quota
    subject = git(repo, "log", "-1", "--format=%s")
    assert subject.startswith("reconciler apply: 2 created, 2 deferred")
    assert "deferred req-b (quota)" in git(repo, "log", "-1", "--format=%b")

    # Later the same day: still no room, nothing sent.
    again = apply(run, repo)
    assert again.exit_code == 0, again.output
    assert posts(small_quota) == 2

    small_quota.admin.advance(24 * 3600)  # past 00:00 GMT on the emulator's clock
    second = apply(run, repo)
    assert second.exit_code == 0, second.output
    assert "Apply complete: 2 created, 0 updated, 0 failed." in second.output
    assert tagged_counts(small_quota) == {"req-a": 1, "req-b": 1, "req-c": 1, "req-d": 1}
    assert posts(small_quota) == 4
    # Adobe's side shows the two days; git's the two parts, each with its deferrals.
    created = sorted(o["createdAt"][:10] for o in small_quota.admin.workorders())
    assert created[0] == created[1] < created[2] == created[3]
    log = git(repo, "log", "--format=%s", "--", "ledger").splitlines()
    outcomes = [s.split(" [")[0] for s in log if "about to create" not in s]
    assert outcomes == [
        "reconciler apply: 2 created",
        "reconciler apply: 2 created, 2 deferred",
    ]


def test_a_budget_below_adobes_quota_is_what_is_allotted(
    run, small_quota, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "reconciler.yaml", "scope: testrepo\nlimits:\n  identitiesPerDay: 3\n")
    declare(repo, monkeypatch, "2026-11-01T10:00:00Z", "req-a", "req-b")
    result = run("-C", str(repo), "plan")
    assert result.exit_code == 0, result.output
    assert "> defer    RecordDelete      req-b" in result.output
    assert "needs 2 of identities today, 1 left of 3" in result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip().startswith("identities today")]
    assert " ".join(line.split()) == (
        "identities today 0 used of 3 (budget in limits; Adobe's 5); this plan 2; 1 left after it"
    )


def test_a_request_larger_than_the_whole_quota_is_a_conflict(
    run, small_quota, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "reconciler.yaml", "scope: testrepo\nlimits:\n  identitiesPerDay: 1\n")
    declare(repo, monkeypatch, "2026-11-01T10:00:00Z", "req-a")
    result = run("-C", str(repo), "plan")
    assert result.exit_code == 1, result.output
    assert "needs 2 of identities today, more than the whole of the budget in limits (1)" in (
        result.output
    )
    assert "split it into smaller requests" in result.output
    assert posts(small_quota) == 0


def test_the_offline_plan_estimates_from_the_ledger_and_says_so(
    run, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "reconciler.yaml", "scope: testrepo\nlimits:\n  identitiesPerDay: 5\n")
    declare(repo, monkeypatch, "2026-11-01T10:00:00Z", "req-new", "req-next")
    # Applied today (4 identities counted) and long ago (not counted today); their files
    # are gone (orphans), which changes nothing to what they consumed.
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record_applied(repo, "req-today", "requests/req-today.yaml", submittedAt=today, identityCount=4)
    record_applied(repo, "req-gone", "requests/req-gone.yaml", submittedAt="2020-01-01T00:00:00Z")
    doc = plan_json(run, repo, "--offline")
    assert doc["quota"]["source"] == "estimate"
    daily = {q["name"]: q for q in doc["quota"]["quotas"]}["dailyConsumerDeleteIdentitiesQuota"]
    assert (daily["consumed"], daily["limit"], daily["plan"]) == (4, 5, 0)
    actions = {a["name"]: a["action"] for a in doc["actions"]}
    assert actions["req-new"] == "defer" and actions["req-next"] == "defer"
    reason = next(a["reason"] for a in doc["actions"] if a["name"] == "req-new")
    assert "1 left of 5 (estimated from the ledger)" in reason
    markdown = run("-C", str(repo), "plan", "--offline", "--format", "markdown")
    assert "**Quota** (estimated from the ledger)" in markdown.output
    assert "| identities today | 4 | 5 (budget in limits; Adobe's 1,000,000) | 0 | 1 |" in (
        markdown.output
    )


def test_kinds_that_consume_no_quota_never_read_it(run, adobe, repo: Path) -> None:
    from tests.conftest import CONSENT

    write(repo, "requests/opt.yaml", CONSENT.format(name="opt"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    doc = plan_json(run, repo)
    assert doc["quota"] is None
    assert not [r for r in adobe.admin.requests() if r["path"].endswith("/quota")]


def test_a_create_adobe_refuses_for_its_quota_is_deferred_not_failed(
    small_quota, tmp_path: Path
) -> None:
    # A plan whose figures are behind (another repository of the organisation spent the
    # quota meanwhile): Adobe's 400 for the quota defers the create; nothing is lost.
    from reconciler.adobe import AdobeClient, AdobeConfig
    from reconciler.reconcile.applier import Applier
    from reconciler.reconcile.ledger import Ledger
    from reconciler.reconcile.planner import ActionType
    from tests.conftest import emulator_today, no_wait, plan_now, request_from

    requests = [request_from(n, RECORD_DELETE) for n in ("req-a", "req-b", "req-c")]
    ledger = Ledger(tmp_path / "ledger")
    config = AdobeConfig.from_env(small_quota.env(), sandbox_name="prod")
    with AdobeClient(config, sleep=no_wait) as client:
        plan = plan_now(small_quota, client, requests, ledger)  # no quota read: all create
        today = emulator_today(small_quota)
        applier = Applier(client, ledger, {r.name: r for r in requests}, today=lambda: today)
        result = applier.apply(plan)
    assert result.success and not result.pending
    (refused,) = result.deferred  # which one depends on the order the threads sent them
    name = refused.action.name
    assert refused.message.startswith("deferred: Adobe refused it for its quota (Daily identity")
    sent = sorted({"req-a", "req-b", "req-c"} - {name})
    assert sorted(e.name for e in ledger) == sent
    assert ledger.intent(name) is None  # refused: nothing to look for later
    assert tagged_counts(small_quota) == dict.fromkeys(sent, 1)
    assert result.count(ActionType.CREATE) == 2
