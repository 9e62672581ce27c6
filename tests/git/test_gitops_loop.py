"""The GitOps loop end to end: real git (bare remote, clones, branches, merges), the emulator."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from tests.conftest import CONSENT, RECORD_DELETE, git, tagged_counts, write, writes

PRIYA = {
    "GIT_AUTHOR_NAME": "Priya",
    "GIT_AUTHOR_EMAIL": "priya@example.com",
    "GIT_COMMITTER_NAME": "Priya",
    "GIT_COMMITTER_EMAIL": "priya@example.com",
}
RUI = {
    "GIT_AUTHOR_NAME": "Rui",
    "GIT_AUTHOR_EMAIL": "rui@example.com",
    "GIT_COMMITTER_NAME": "Rui",
    "GIT_COMMITTER_EMAIL": "rui@example.com",
}


def as_(who: dict[str, str], cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **who},
    ).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A bare remote with one declared request on main, and a clone of it."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    write(seed, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Start")
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "-q", "origin", "main")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True)
    return work


def test_the_whole_loop(run, adobe, clone: Path) -> None:
    c = str(clone)
    # A branch adds a request with a mistake; the PR check against the base fails on its line.
    as_(PRIYA, clone, "checkout", "-q", "-b", "add-req-a")
    bad = RECORD_DELETE.format(name="req-a").replace("b@example.com", "b@example")
    write(clone, "requests/deletes/req-a.yaml", bad)
    as_(PRIYA, clone, "add", "-A")
    as_(PRIYA, clone, "commit", "-qm", "Add req-a")
    check = run("-C", c, "validate", "--base", "origin/main", "--format", "github")
    assert check.exit_code == 1
    assert "::error file=requests/deletes/req-a.yaml,line=13" in check.output
    # The fix passes; the offline plan (no credentials) shows one create.
    write(clone, "requests/deletes/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    as_(PRIYA, clone, "commit", "-qam", "Fix req-a email")
    fixed = as_(PRIYA, clone, "rev-parse", "HEAD")
    assert run("-C", c, "validate", "--base", "origin/main").exit_code == 0
    offline = run("-C", c, "plan", "--offline", "--format", "markdown")
    assert "| + | **create** | RecordDelete | `req-a`" in offline.output
    # Rui merges; CI applies on main with --commit and pushes the ledger back.
    as_(RUI, clone, "checkout", "-q", "main")
    as_(RUI, clone, "merge", "-q", "--no-ff", "add-req-a", "-m", "Merge req-a")
    merge = as_(RUI, clone, "rev-parse", "HEAD")
    applied = run("-C", c, "apply", "--auto-approve", "--commit")
    assert applied.exit_code == 0, applied.output
    assert "2 created" in applied.output and "Ledger committed" in applied.output
    ledger_commit = as_(RUI, clone, "rev-parse", "HEAD")
    message = as_(RUI, clone, "log", "-1", "--format=%an|%s|%b")
    assert message.startswith("reconciler-bot|reconciler apply: 2 created [skip ci]|")
    assert "create req-a DI-" in message and "@example.com" not in message
    assert as_(RUI, clone, "status", "--porcelain") == ""
    as_(RUI, clone, "push", "-q", "origin", "main")
    entry = json.loads((clone / "ledger/req-a.json").read_text())
    assert entry["declaredIn"] == fixed
    # A second apply does nothing and commits nothing.
    before = len(writes(adobe))
    again = run("-C", c, "apply", "--auto-approve", "--commit")
    assert again.exit_code == 0 and "Ledger unchanged" in again.output
    assert len(writes(adobe)) == before
    assert as_(RUI, clone, "rev-parse", "HEAD") == ledger_commit
    # A displayName change through another branch and merge: one update.
    as_(PRIYA, clone, "checkout", "-q", "-b", "rename")
    path = clone / "requests/deletes/req-a.yaml"
    path.write_text(path.read_text().replace("displayName: Example", "displayName: Renamed"))
    as_(PRIYA, clone, "commit", "-qam", "Rename req-a")
    assert run("-C", c, "validate", "--base", "origin/main").exit_code == 0
    as_(RUI, clone, "checkout", "-q", "main")
    as_(RUI, clone, "merge", "-q", "--no-ff", "rename", "-m", "Merge rename")
    update = run("-C", c, "apply", "--auto-approve", "--commit")
    assert "1 updated" in update.output
    assert [w[0] for w in writes(adobe)[before:]] == ["PUT"]
    # Status refresh as work orders progress, committed.
    adobe.admin.advance(5 * 3600)
    status = run("-C", c, "status", "--commit")
    assert status.exit_code == 0 and "completed" in status.output
    # The audit of req-a lists every step with the right commits and authors.
    result = run("-C", c, "audit", "req-a", "--format", "json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)["requests"][0]["events"]
    kinds = [(e["event"], e["author"]) for e in events]
    assert kinds == [
        ("declared", "Priya"),
        ("changed", "Priya"),
        ("merged", "Rui"),
        ("applied", "reconciler-bot"),
        ("status", "reconciler-bot"),
        ("changed", "Priya"),
        ("merged", "Rui"),
        ("updated", "reconciler-bot"),
        ("status", "reconciler-bot"),
    ]
    assert events[2]["commit"] == merge and events[1]["commit"] == fixed
    assert events[3]["commit"] == ledger_commit
    assert events[5]["details"].startswith("spec.displayName")
    assert events[-1]["details"].startswith("completed")
    csv_rows = list(csv.reader(io.StringIO(run("-C", c, "audit", "--format", "csv").output)))
    assert csv_rows[0] == [
        "request",
        "kind",
        "event",
        "date",
        "commit",
        "author",
        "email",
        "details",
    ]
    assert {r[0] for r in csv_rows[1:]} == {"req-a", "req-b"}


def test_import_adopts_a_work_order_made_elsewhere(run, adobe, repo: Path) -> None:
    with AdobeClient(AdobeConfig.from_env({**os.environ})) as client:
        order = client.hygiene.create_work_order(
            dataset_id="c48b51623ec641a2949d339bad69cb15",
            display_name="Made in the UI",
            description="by hand",
            identities=[("email", "someone@example.com")],
        )
    result = run("-C", str(repo), "import", order.workorder_id)
    assert result.exit_code == 0, result.output
    (path,) = (repo / "requests/imported").glob("*.yaml")
    text = path.read_text()
    assert "never returns" in text and "imported: true" in text
    assert run("-C", str(repo), "validate").exit_code == 0
    entry = json.loads((repo / f"ledger/{path.stem}.json").read_text())
    assert entry["imported"] is True and entry["remote"]["workorderId"] == order.workorder_id
    # The tag is added by the next apply (an update), then nothing changes.
    plan = run("-C", str(repo), "plan", "--detailed-exitcode")
    assert plan.exit_code == 2 and "update" in plan.output
    assert f'description: "by hand" → "by hand [reconciler:{path.stem}]"' in plan.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Import a work order")
    before = len(writes(adobe))
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    assert [w[0] for w in writes(adobe)[before:]] == ["PUT"]
    assert tagged_counts(adobe) == {path.stem: 1}
    assert run("-C", str(repo), "plan", "--detailed-exitcode").exit_code == 0
    again = run("-C", str(repo), "import", order.workorder_id)
    assert again.exit_code == 1 and "already exists" in again.output


def test_commit_needs_a_repository(run, adobe, tmp_path: Path) -> None:
    write(tmp_path / "plain", "requests/req-b.yaml", CONSENT.format(name="req-b"))
    args = ("apply", "--auto-approve", "--commit", "--allow-unreviewed")
    result = run("-C", str(tmp_path / "plain"), *args)
    assert result.exit_code == 1
    assert "not inside a git repository" in result.output
    # The intents are committed before anything is sent: outside git, nothing is.
    assert writes(adobe) == []
    assert not (tmp_path / "plain/ledger/req-b.json").exists()


def test_demo_runs_the_whole_story() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for needle in (
        # The erasure first drafted as a record delete: warned, refiled as a privacy job.
        "jira-12399.yaml:7:3: warning: metadata.receivedAt marks a data subject's request",
        "(record-delete-for-data-subject)",
        "(email-format)",
        "Apply complete: 8 created",
        "No changes",
        # Data subjects' requests show when they are due; the cleansing is renamed.
        "(deadline: due ",
        "~ update   RecordDelete      qa-2026-11-test-identities      displayName",
        "1 updated",
        "merged into main",
        "jira-12399  (PrivacyJob, requests/privacy-jobs/jira-12399.yaml)",
        # The audit shows the deadline, and who approved apart from who merged.
        ": met (GDPR / UK GDPR)",
        "approved  ",
        "pull request #1 by priya, merged by rui",
        "Done.",
    ):
        assert needle in out
    # Applying from the pull request's branch is refused; the merge on main applies.
    assert "error: refusing to apply unreviewed state: the branch checked out is jira-12399" in (
        proc.stderr
    )
    assert "margaret.cavendish@example.com" not in out and "m.cavendish@example.org" not in out


def test_the_demo_dates_the_examples_receipt_from_today(tmp_path: Path) -> None:
    from reconciler.cli.tour import _redate

    write(tmp_path, "a/one.yaml", "metadata:\n  name: one\n  receivedAt: 2026-11-24\n")
    write(tmp_path, "two.yaml", "metadata:\n  name: two\n  ticket: receivedAt: 2026-11-24\n")
    _redate(tmp_path, timedelta(days=40))
    assert (tmp_path / "a/one.yaml").read_text().endswith("  receivedAt: 2027-01-03\n")
    # Only the field itself moves, not text that happens to name it.
    assert (tmp_path / "two.yaml").read_text().endswith("ticket: receivedAt: 2026-11-24\n")


def _env_for(adobe) -> dict[str, str]:
    return {**os.environ, **adobe.env(), "ADOBE_SANDBOX_NAME": "prod"}


def test_two_clones_race_no_duplicates_no_lost_entries(adobe, clone: Path, tmp_path: Path) -> None:
    """Two applies with --push on two clones of one remote, started together."""
    for i in range(6):
        write(clone, f"requests/r{i}.yaml", RECORD_DELETE.format(name=f"r{i}"))
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "six requests")
    git(clone, "push", "-q", "origin", "main")
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "origin.git"), str(other)], check=True)
    adobe.admin.set_faults({"latency_ms": 30})
    cmd = [sys.executable, "-m", "reconciler", "-C"]
    args = ["apply", "--auto-approve", "--push"]
    procs = [
        subprocess.Popen(
            [*cmd, str(d), *args],
            env=_env_for(adobe),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in (clone, other)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    adobe.admin.set_faults({})
    codes = sorted(code for code, _, _ in results)
    outputs = "\n".join(out + err for _, out, err in results)
    assert codes in ([0, 0], [0, 1]), outputs
    if codes == [0, 1]:
        assert "another apply holds the lease on origin" in outputs
    # Whoever lost runs again and finds nothing to do; the remote has every entry once.
    for d in (clone, other):
        again = subprocess.run(
            [*cmd, str(d), *args], env=_env_for(adobe), capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "No changes" in again.stdout
    assert tagged_counts(adobe) == {f"r{i}": 1 for i in range(6)}
    check = tmp_path / "check"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "origin.git"), str(check)], check=True)
    names = sorted(p.stem for p in (check / "ledger").glob("*.json"))
    assert names == sorted(["req-b", *(f"r{i}" for i in range(6))])
    assert git(check, "ls-remote", "origin", "refs/reconciler/apply-lease").strip() == ""


def test_a_stale_lease_is_taken_over_with_a_message(run, adobe, clone: Path) -> None:
    # The note of a run on another machine that started in 1970 and died, written by hand.
    note = '{"host": "ci-runner-7", "pid": 4242, "since": 0.0}'
    tree = git(clone, "hash-object", "-w", "-t", "tree", "/dev/null").strip()
    sha = git(clone, "commit-tree", tree, "-m", note).strip()
    git(clone, "push", "-q", "origin", f"{sha}:refs/reconciler/apply-lease")
    held = run("-C", str(clone), "apply", "--auto-approve", "--push")
    assert held.exit_code == 0, held.output
    assert "took over a lease on origin left by ci-runner-7 pid 4242" in held.output
    assert git(clone, "ls-remote", "origin", "refs/reconciler/apply-lease").strip() == ""


def test_a_held_lease_stops_another_clone_before_anything_is_sent(run, adobe, clone) -> None:
    from reconciler.git.publish import remote_lease
    from reconciler.settings import load_settings

    with remote_lease(load_settings(clone), "origin"):
        held = run("-C", str(clone), "apply", "--auto-approve", "--push")
    assert held.exit_code == 1
    assert "another apply holds the lease on origin" in held.output
    assert writes(adobe) == []
