"""Submitting a failed request again with ``metadata.retryOf``: validated against the
ledger, created once, shown in the plan, linked both ways in the audit, and the end of
the failure's alarm in `status`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RECORD_DELETE, git, tagged_counts, write

UNKNOWN_DATASET = "0123456789abcdef01234567"  # the emulator fails work orders on it
KNOWN_DATASET = "c48b51623ec641a2949d339bad69cb15"


def request(name: str, dataset: str, retry_of: str | None = None) -> str:
    text = RECORD_DELETE.format(name=name).replace(KNOWN_DATASET, dataset)
    if retry_of is not None:
        text = text.replace(f"  name: {name}\n", f"  name: {name}\n  retryOf: {retry_of}\n")
    return text


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def failed_request(run, adobe, repo: Path) -> None:
    write(repo, "requests/req-x.yaml", request("req-x", UNKNOWN_DATASET))
    commit(repo, "declare req-x")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    adobe.admin.advance(10 * 24 * 3600)
    status = run("-C", str(repo), "status", "--commit")
    assert status.exit_code == 1 and "failed: req-x" in status.output


def test_a_failed_request_is_submitted_again_once_and_linked(run, adobe, repo: Path) -> None:
    failed_request(run, adobe, repo)
    # The same deletion again, under a new name: not "already applied", since it failed.
    write(repo, "requests/req-x-2.yaml", request("req-x-2", UNKNOWN_DATASET, "req-x"))
    checked = run("-C", str(repo), "validate")
    assert checked.exit_code == 0, checked.output
    # It may also correct what made it fail.
    write(repo, "requests/req-x-2.yaml", request("req-x-2", KNOWN_DATASET, "req-x"))
    commit(repo, "retry req-x")

    plan = run("-C", str(repo), "plan")
    assert "+ create   RecordDelete      req-x-2" in plan.output
    assert "; retry of req-x (its last status at Adobe: failed)" in plan.output
    applied = run("-C", str(repo), "apply", "--auto-approve", "--commit")
    assert applied.exit_code == 0, applied.output
    again = run("-C", str(repo), "apply", "--auto-approve")
    assert again.exit_code == 0 and "No changes" in again.output
    assert tagged_counts(adobe) == {"req-x": 1, "req-x-2": 1}

    adobe.admin.advance(10 * 24 * 3600)
    status = run("-C", str(repo), "status")
    assert status.exit_code == 0, status.output
    assert "retried: req-x failed; req-x-2 submits it again" in status.output

    doc = json.loads(run("-C", str(repo), "audit", "--format", "json").stdout)
    links = {r["name"]: (r["retryOf"], r["retriedBy"]) for r in doc["requests"]}
    assert links == {"req-x": (None, "req-x-2"), "req-x-2": ("req-x", None)}
    table = run("-C", str(repo), "audit", "req-x").output
    assert "  retried by: req-x-2" in table


def test_only_an_applied_failed_request_can_be_retried(run, adobe, repo: Path) -> None:
    write(repo, "requests/req-ok.yaml", request("req-ok", KNOWN_DATASET))
    commit(repo, "declare")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    cases = {
        "req-ok": "metadata.retryOf names 'req-ok', which has not failed at Adobe",
        "req-none": "metadata.retryOf names 'req-none', which the ledger does not hold",
        "req-self": "metadata.retryOf names this request itself",
    }
    for target, expected in cases.items():
        name = "req-self" if target == "req-self" else "req-retry"
        write(repo, f"requests/{name}.yaml", request(name, KNOWN_DATASET, target))
        result = run("-C", str(repo), "validate")
        assert result.exit_code == 1, result.output
        assert f"requests/{name}.yaml:5:12: error: {expected}" in result.output
        (repo / f"requests/{name}.yaml").unlink()


def test_two_retries_of_one_failure_are_refused(run, adobe, repo: Path) -> None:
    failed_request(run, adobe, repo)
    write(repo, "requests/req-a.yaml", request("req-a", KNOWN_DATASET, "req-x"))
    write(repo, "requests/req-b.yaml", request("req-b", KNOWN_DATASET, "req-x"))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert (
        "requests/req-b.yaml:5:12: error: metadata.retryOf names 'req-x', which 'req-a' "
        "already submits again (retry-of)"
    ) in result.output


def test_an_orphan_is_not_a_plan_that_matches(run, adobe, repo: Path) -> None:
    # A removed applied request changes nothing at Adobe, but is not "no changes" either.
    write(repo, "requests/req-o.yaml", request("req-o", KNOWN_DATASET))
    commit(repo, "declare")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    assert run("-C", str(repo), "plan", "--detailed-exitcode").exit_code == 0
    (repo / "requests/req-o.yaml").unlink()
    commit(repo, "remove req-o")
    plan = run("-C", str(repo), "plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "orphan   RecordDelete      req-o" in plan.output
    assert "No changes" not in plan.output
