"""A repository made by ``git init`` and nothing else: no command crashes on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONSENT, git, write

NOTE = "no commits yet: the audit trail starts with the first commit"


@pytest.fixture
def empty(repo: Path) -> Path:
    """No commit, but a request file and a ledger entry written (not committed)."""
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    assert git(repo, "rev-list", "--all") == ""
    return repo


@pytest.mark.parametrize(
    ("fmt", "stdout"),
    [
        pytest.param("table", "", id="table"),
        pytest.param("json", '{\n  "version": 1,\n  "requests": []\n}\n', id="json"),
        pytest.param("csv", "request,kind,event,date,commit,author,email,details\n", id="csv"),
    ],
)
def test_audit_has_an_empty_trail(run, empty: Path, fmt: str, stdout: str) -> None:
    result = run("-C", str(empty), "audit", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.stdout == stdout
    assert result.stderr == NOTE + "\n"
    if fmt == "json":
        assert json.loads(result.stdout)["requests"] == []


def test_audit_of_a_named_request_says_there_is_no_history(run, empty: Path) -> None:
    result = run("-C", str(empty), "audit", "req-b")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no history for request 'req-b': this repository has no commits yet\n"
    )


def test_audit_as_a_subprocess(empty: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "audit"],
        cwd=empty / "requests",
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", NOTE + "\n")


def test_audit_after_the_first_commit_has_no_note(run, empty: Path) -> None:
    git(empty, "add", "-A")
    git(empty, "commit", "-qm", "first")
    result = run("-C", str(empty), "audit", "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    (audit,) = json.loads(result.stdout)["requests"]
    assert [e["event"] for e in audit["events"]] == ["declared", "merged"]
    assert audit["events"][0]["commit"] == git(empty, "rev-parse", "HEAD").strip()


def test_validate_base_names_the_unknown_revision(run, empty: Path) -> None:
    result = run("-C", str(empty), "validate", "--base", "main")
    assert result.exit_code == 1
    assert "unknown git revision 'main'; fetch it first" in result.stderr


def test_apply_records_no_declaring_commit(run, adobe, empty: Path) -> None:
    args = ("apply", "--auto-approve", "--commit", "--allow-unreviewed")
    result = run("-C", str(empty), *args)
    assert result.exit_code == 0, result.output
    entry = json.loads((empty / "ledger/req-b.json").read_text())
    assert entry["declaredIn"] is None
    # The ledger commit is the repository's first; the request file stays uncommitted.
    assert git(empty, "log", "--format=%s").startswith("reconciler apply: 1 created (unreviewed)")
    assert git(empty, "status", "--porcelain", "-z") == "?? reconciler.yaml\0?? requests/\0"
