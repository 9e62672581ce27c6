"""Folders with spaces, quotes and non-ASCII names, through everything git-backed.

The repository itself sits in such a folder, its reconciler.yaml one level below the
top of the work tree, and its requests and ledger folders have such names. Expected
commits and paths come from git itself (``-z`` output, read here independently).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONSENT, RECORD_DELETE, git, write
from tests.ledger_helpers import record_applied

ROOT = "équipe données"  # reconciler.yaml is here, below the top of the work tree
REQUESTS = "demandes à traiter"
LEDGER = "registre d'audit"
FOLDER = 'l\'équipe "ops" #1'
REQ_A = f"{REQUESTS}/{FOLDER}/req-a.yaml"
REQ_B = f"{REQUESTS}/{FOLDER}/sous dossier/req-b.yaml"
SETTINGS = f"""\
paths:
  requests: {REQUESTS}
  ledger: "{LEDGER}"
client:
  requestsPerSecond: 1000
scope: testrepo
"""


@pytest.fixture
def top(tmp_path: Path) -> Path:
    """A work tree whose requests live under awkward names, committed on main."""
    path = tmp_path / "dépôt privé"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, f"{ROOT}/reconciler.yaml", SETTINGS)
    write(path, f"{ROOT}/{REQ_A}", RECORD_DELETE.format(name="req-a"))
    write(path, f"{ROOT}/{REQ_B}", CONSENT.format(name="req-b"))
    git(path, "add", "-A")
    git(path, "commit", "-qm", "Declare req-a and req-b")
    return path


def last_commit_of(top: Path, path: str) -> str:
    return git(top, "log", "-1", "--format=%H", "--", f":(literal){path}").strip()


def tracked(top: Path) -> list[str]:
    return sorted(p for p in git(top, "ls-files", "-z").split("\0") if p)


def test_git_would_quote_these_paths(top: Path) -> None:
    """The premise: without -z, git C-quotes them (so a parser of that output breaks)."""
    listed = git(top, "-c", "core.quotepath=true", "ls-files")
    assert '"\\303\\251quipe' in listed
    assert tracked(top) == sorted([f"{ROOT}/reconciler.yaml", f"{ROOT}/{REQ_A}", f"{ROOT}/{REQ_B}"])


def test_validate_base_reports_the_real_paths(run, top: Path) -> None:
    record_applied(top / ROOT, "req-a", REQ_A, ledger=LEDGER)
    record_applied(top / ROOT, "req-b", REQ_B, ledger=LEDGER, kind="ConsentOptOut")
    git(top, "add", "-A")
    git(top, "commit", "-qm", "apply req-a and req-b")
    git(top, "checkout", "-qb", "change")
    path = top / ROOT / REQ_A
    path.write_text(path.read_text().replace("b@example.com", "z@example.com"))
    git(top, "rm", "-q", f"{ROOT}/{REQ_B}")
    result = run("-C", str(top / ROOT), "validate", "--base", "main", "--format", "json")
    assert result.exit_code == 1, result.output
    found = {(f["path"], f["rule"]) for f in json.loads(result.output)["findings"]}
    assert found == {(REQ_A, "immutable-field"), (REQ_B, "request-removed")}


def test_validate_base_sees_a_move_between_awkward_folders(run, top: Path) -> None:
    git(top, "checkout", "-qb", "move")
    git(top, "mv", f"{ROOT}/{REQ_B}", f"{ROOT}/{REQUESTS}/req-b.yaml")
    result = run("-C", str(top / ROOT), "validate", "--base", "main")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 file(s) valid"


def test_apply_records_declared_in(run, adobe, top: Path) -> None:
    done = run("-C", str(top / ROOT), "apply", "--auto-approve", "--commit")
    assert done.exit_code == 0, done.output
    for name, path in (("req-a", REQ_A), ("req-b", REQ_B)):
        entry = json.loads((top / ROOT / LEDGER / f"{name}.json").read_text())
        assert entry["declaredIn"] == last_commit_of(top, f"{ROOT}/{path}")
        assert entry["path"] == path
    # The ledger commit took the ledger folder, whose name has a quote and a space.
    assert git(top, "status", "--porcelain", "-z") == ""
    assert f"{ROOT}/{LEDGER}/req-a.json" in tracked(top)


def test_audit_shows_real_paths(run, adobe, top: Path) -> None:
    path = top / ROOT / REQ_A
    path.write_text(path.read_text().replace("displayName: Example", "displayName: Renamed"))
    git(top, "commit", "-qam", "Rename req-a")
    assert run("-C", str(top / ROOT), "apply", "--auto-approve", "--commit").exit_code == 0
    result = run("-C", str(top / ROOT), "audit", "--format", "json")
    assert result.exit_code == 0, result.output
    audits = {a["name"]: a for a in json.loads(result.output)["requests"]}
    assert set(audits) == {"req-a", "req-b"}
    assert audits["req-a"]["path"] == f"{ROOT}/{REQ_A}"
    assert audits["req-b"]["path"] == f"{ROOT}/{REQ_B}"
    events = [(e["event"], e["commit"]) for e in audits["req-a"]["events"]]
    first = git(top, "rev-list", "--max-parents=0", "HEAD").strip()
    renamed = last_commit_of(top, f"{ROOT}/{REQ_A}")
    ledger = last_commit_of(top, f"{ROOT}/{LEDGER}/req-a.json")
    assert events == [
        ("declared", first),
        ("merged", first),
        ("changed", renamed),
        ("merged", renamed),
        ("applied", ledger),
        ("status", ledger),
    ]
    assert audits["req-a"]["events"][2]["details"] == "spec.displayName: Rename req-a"
    assert "\\3" not in result.output


def test_audit_as_a_subprocess_prints_real_paths(run, adobe, top: Path) -> None:
    assert run("-C", str(top / ROOT), "apply", "--auto-approve", "--commit").exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "audit", "req-b"],
        cwd=top / ROOT / REQUESTS,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    assert out.splitlines()[0] == f"req-b  (ConsentOptOut, {ROOT}/{REQ_B})"
    assert "declared" in out and "applied" in out
