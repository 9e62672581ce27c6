"""plan / apply / status against the emulator over real HTTP, in a real git repository."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.ledger import Ledger
from tests.conftest import (
    CONSENT,
    JOB_USER_KEY,
    PRIVACY_JOB,
    RECORD_DELETE,
    git,
    plan_and_apply,
    request_from,
    tagged_counts,
    tagged_jobs,
    write,
    writes,
)


@pytest.fixture
def repo3(repo: Path) -> Path:
    """A committed repository with one request of each kind."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/req-b.yaml", PRIVACY_JOB.format(name="req-b"))
    write(repo, "requests/req-c.yaml", CONSENT.format(name="req-c"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    return repo


def apply(run, repo: Path, *args: str):
    return run("-C", str(repo), "apply", "--auto-approve", *args)


def edit(path: Path, old: str, new: str) -> None:
    """Change a request file and commit it, as a merged pull request does."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(path.parent, "commit", "-qam", f"Edit {path.name}")


def test_new_requests_are_created_once_and_recorded(run, adobe, repo3: Path) -> None:
    result = apply(run, repo3)
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    assert tagged_counts(adobe) == {"req-a": 1}
    assert {JOB_USER_KEY.match(j["userKey"]).groups() for j in adobe.admin.jobs()} == {
        ("req-b", "user-1")
    }
    # 2 actions × 2 products for the one user
    assert len(adobe.admin.jobs()) == 4
    assert sum(c["requests"] for c in adobe.admin.consents()) == 1
    entry = json.loads((repo3 / "ledger/req-a.json").read_text())
    assert entry["remote"]["workorderId"] == adobe.admin.workorders()[0]["workorderId"]
    assert entry["declaredIn"] == git(repo3, "rev-parse", "HEAD").strip()
    assert "a@example.com" not in (repo3 / "ledger/req-a.json").read_text()


def test_second_apply_sends_no_write(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    before = len(writes(adobe))
    result = apply(run, repo3)
    assert result.exit_code == 0
    assert "No changes" in result.output
    assert len(writes(adobe)) == before


def test_changed_display_name_is_one_put(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    before = writes(adobe)
    edit(repo3 / "requests/req-a.yaml", "displayName: Example", "displayName: Better name")
    edit(repo3 / "requests/req-a.yaml", "Example description.", "New description.")
    result = apply(run, repo3)
    assert result.exit_code == 0, result.output
    new = writes(adobe)[len(before) :]
    assert len(new) == 1 and new[0][0] == "PUT"
    (order,) = adobe.admin.workorders()
    assert order["displayName"] == "Better name"
    assert re.fullmatch(
        r"New description\. \[reconciler:[a-z0-9]{4,16}/req-a\]", order["description"]
    )


def test_drift_made_at_adobe_is_planned_and_corrected(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    (order,) = adobe.admin.workorders()
    env = {**os.environ}
    with AdobeClient(AdobeConfig.from_env(env)) as client:
        client.hygiene.update_work_order(order["workorderId"], display_name="Edited in the UI")
    plan = run("-C", str(repo3), "plan", "--detailed-exitcode")
    assert plan.exit_code == 2
    assert 'displayName: "Edited in the UI" → "Example"' in plan.output
    assert apply(run, repo3).exit_code == 0
    assert adobe.admin.workorders()[0]["displayName"] == "Example"
    assert run("-C", str(repo3), "plan", "--detailed-exitcode").exit_code == 0


def test_immutable_change_is_a_conflict_apply_refuses(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    before = len(writes(adobe))
    edit(repo3 / "requests/req-a.yaml", "b@example.com", "z@example.com")
    plan = run("-C", str(repo3), "plan")
    assert plan.exit_code == 1
    assert "conflict" in plan.output and "z@example.com" not in plan.output
    result = apply(run, repo3)
    assert result.exit_code == 1
    assert "1 conflict(s), each needing a person: req-a: identities or other immutable" in (
        result.output
    )
    assert len(writes(adobe)) == before


def test_removed_file_is_an_orphan_and_nothing_is_sent(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    before = len(writes(adobe))
    (repo3 / "requests/req-a.yaml").unlink()
    git(repo3, "commit", "-qam", "Remove req-a")
    plan = run("-C", str(repo3), "plan")
    assert plan.exit_code == 0
    assert "orphan" in plan.output and "req-a" in plan.output
    assert apply(run, repo3).exit_code == 0
    assert len(writes(adobe)) == before
    assert tagged_counts(adobe) == {"req-a": 1}


def test_stale_plan_file_is_refused(run, adobe, repo3: Path) -> None:
    assert run("-C", str(repo3), "plan", "--out", "plan.json").exit_code == 0
    edit(repo3 / "requests/req-a.yaml", "displayName: Example", "displayName: Changed")
    result = run("-C", str(repo3), "apply", "plan.json")
    assert result.exit_code == 1
    assert "the plan is stale" in result.output
    assert writes(adobe) == []


def test_saved_plan_applies_exactly(run, adobe, repo3: Path) -> None:
    assert run("-C", str(repo3), "plan", "--out", "plan.json").exit_code == 0
    doc = json.loads((repo3 / "plan.json").read_text())
    assert "a@example.com" not in (repo3 / "plan.json").read_text()
    assert doc["summary"]["create"] == 3
    result = run("-C", str(repo3), "apply", "plan.json")
    assert result.exit_code == 0, result.output
    assert tagged_counts(adobe) == {"req-a": 1}


def test_hand_edited_plan_file_is_refused(run, adobe, repo3: Path) -> None:
    run("-C", str(repo3), "plan", "--out", "plan.json")
    doc = json.loads((repo3 / "plan.json").read_text())
    doc["actions"] = [a for a in doc["actions"] if a["name"] != "req-c"]
    (repo3 / "plan.json").write_text(json.dumps(doc))
    result = run("-C", str(repo3), "apply", "plan.json")
    assert result.exit_code == 1
    assert "edited by hand" in result.output
    assert writes(adobe) == []


def test_dropped_create_response_does_not_duplicate(run, adobe, repo3: Path) -> None:
    adobe.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 1})
    result = apply(run, repo3)
    adobe.admin.set_faults({})
    # The work order and the jobs were found by their tags and recorded.
    assert "found at Adobe and recorded" in result.output
    assert adobe.admin.counters()["total"].get("drop_after_commit", 0) >= 2
    assert apply(run, repo3).exit_code == 0
    assert tagged_counts(adobe) == {"req-a": 1}
    assert len(adobe.admin.jobs()) == 4


def test_lost_ledger_does_not_duplicate(run, adobe, repo3: Path) -> None:
    assert apply(run, repo3).exit_code == 0
    shutil.rmtree(repo3 / "ledger")
    plan = run("-C", str(repo3), "plan")
    assert "adopt" in plan.output
    result = apply(run, repo3)
    assert result.exit_code == 0, result.output
    assert tagged_counts(adobe) == {"req-a": 1}
    assert len(adobe.admin.jobs()) == 4
    assert json.loads((repo3 / "ledger/req-a.json").read_text())["recovered"] is True
    # Consent has no remote id: with its ledger entry lost it is sent again (harmless).
    assert sum(c["requests"] for c in adobe.admin.consents()) == 2


class Timeline(httpx.BaseTransport):
    """The network and the clock of one client as one ordered record: every answer (with
    its Retry-After) and every wait. Time moves only when the client waits."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.now = 0.0
        self.events: list[tuple] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        retry_after = response.headers.get("retry-after")
        self.events.append(("answer", request.method, request.url.path, response.status_code))
        if retry_after is not None:
            self.events.append(("retry-after", float(retry_after)))
        return response

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.events.append(("wait", seconds))

    def clock(self) -> float:
        return self.now

    def close(self) -> None:
        self.inner.close()


def test_retry_after_is_honoured(adobe, tmp_path: Path) -> None:
    # Reads only: a throttled create is an unknown outcome, looked for and never re-sent
    # on the status's word (tests/reconcile/test_intents.py).
    adobe.admin.set_faults({"read": {"throttle_rate": 0.4, "retry_after": 1}, "seed": 8})
    timeline = Timeline()
    config = AdobeConfig.from_env(adobe.env(), sandbox_name="prod", max_concurrency=1)
    requests = [
        request_from("req-a", RECORD_DELETE),
        request_from("req-b", PRIVACY_JOB),
        request_from("req-c", CONSENT),
    ]
    ledger = Ledger.load(tmp_path / "ledger")
    with AdobeClient(
        config, transport=timeline, sleep=timeline.sleep, clock=timeline.clock
    ) as client:
        result = plan_and_apply(adobe, client, requests, ledger)
    assert result.success, result.failed
    events = timeline.events
    throttled = [i for i, e in enumerate(events) if e[0] == "answer" and e[3] == 429]
    assert throttled and {events[i][1] for i in throttled} == {"GET"}
    assert len(throttled) == sum(1 for r in adobe.admin.requests() if r["status"] == 429)
    for i in throttled:
        assert events[i + 1][0] == "retry-after"
        later = events[i + 2 :]
        resent = next(n for n, e in enumerate(later) if e[0] == "answer")
        assert all(e[0] == "wait" for e in later[:resent])
        # The same call again, and only after waiting as long as Adobe asked.
        assert later[resent][1:3] == events[i][1:3]
        assert sum(e[1] for e in later[:resent]) >= events[i + 1][1]
    # Every create was sent once, after the throttled reads were answered.
    assert tagged_counts(adobe) == {"req-a": 1}
    assert list(tagged_jobs(adobe)["req-b"].values()) == [1, 1, 1, 1]
    assert sum(c["requests"] for c in adobe.admin.consents()) == 1


def test_a_400_is_not_retried_and_adobe_message_reaches_the_user(
    run, repo3: Path, monkeypatch
) -> None:
    # A dataset whose primary identity namespace is not the request's: Adobe says 400.
    from reconciler.emulator.config import DatasetConfig, EmulatorConfig
    from reconciler.emulator.testing import running_emulator

    dataset = DatasetConfig("c48b51623ec641a2949d339bad69cb15", "Phones", "phone")
    with running_emulator(EmulatorConfig(datasets=(dataset,))) as emu:
        for key, value in emu.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ADOBE_SANDBOX_NAME", "prod")
        result = apply(run, repo3)
        posts = [w for w in writes(emu) if w == ("POST", "/data/core/hygiene/workorder")]
    assert result.exit_code == 1
    assert "do not match the primary identity namespace phone" in result.output
    assert "1 failed" in result.output
    assert len(posts) == 1


def test_invalid_request_files_stop_plan_and_apply(run, adobe, repo3: Path) -> None:
    edit(repo3 / "requests/req-a.yaml", "b@example.com", "not-an-email")
    for cmd in (["plan"], ["apply", "--auto-approve"]):
        result = run("-C", str(repo3), *cmd)
        assert result.exit_code == 1
        assert "requests/req-a.yaml:13:11" in result.output
    assert writes(adobe) == []


def test_apply_without_a_terminal_needs_auto_approve(run, adobe, repo3: Path) -> None:
    result = run("-C", str(repo3), "apply")
    assert result.exit_code == 1
    assert "--auto-approve" in result.output
    assert writes(adobe) == []


def test_identity_cap_per_run(run, adobe, repo3: Path) -> None:
    write(repo3, "reconciler.yaml", "limits:\n  maxIdentitiesPerRun: 2\n")
    git(repo3, "commit", "-qam", "Lower the identity cap")
    result = apply(run, repo3)
    assert result.exit_code == 1 and "--max-identities" in result.output
    assert writes(adobe) == []
    assert apply(run, repo3, "--max-identities", "10").exit_code == 0


def test_status_refreshes_into_the_ledger(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    adobe.admin.advance(30 * 24 * 3600)
    result = run("-C", str(repo3), "status", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["requests"]}
    assert rows["req-a"]["status"] == "completed"
    assert rows["req-b"]["status"] == "complete"
    entry = json.loads((repo3 / "ledger/req-a.json").read_text())
    assert entry["status"]["value"] == "completed"
    assert {p["name"] for p in entry["status"]["products"]}


def test_missing_credentials_are_named_not_shown(run, adobe, repo3: Path, monkeypatch) -> None:
    monkeypatch.delenv("ADOBE_CLIENT_SECRET")
    result = run("-C", str(repo3), "plan")
    assert result.exit_code == 1
    assert "ADOBE_CLIENT_SECRET" in result.output
    offline = run("-C", str(repo3), "plan", "--offline")
    assert offline.exit_code == 0 and "3 to create" in offline.output


def test_status_skips_final_requests_unless_asked(run, adobe, repo3: Path) -> None:
    apply(run, repo3)
    adobe.admin.advance(30 * 24 * 3600)
    assert run("-C", str(repo3), "status").exit_code == 0

    def reads() -> int:
        return sum(1 for r in adobe.admin.requests() if r["method"] == "GET")

    before = reads()
    assert run("-C", str(repo3), "status").exit_code == 0
    assert reads() == before  # everything is final: nothing to ask Adobe
    assert run("-C", str(repo3), "status", "--all").exit_code == 0
    assert reads() > before
