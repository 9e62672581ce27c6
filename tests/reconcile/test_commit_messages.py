"""Commit messages count what they commit, whatever wrote it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RECORD_DELETE, git, write


def declare(repo: Path, *names: str) -> None:
    for name in names:
        write(repo, f"requests/{name}.yaml", RECORD_DELETE.format(name=name))
    git(repo, "add", "requests", "reconciler.yaml")  # never the ledger: the tool commits it
    git(repo, "commit", "-qm", "declare")


def test_a_commit_says_how_many_ledger_files_it_holds(run, adobe, repo: Path) -> None:
    declare(repo, "req-a", "req-b")
    # An apply without --commit (or one interrupted before committing) leaves two entries.
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    declare(repo, "req-c")
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    # The intents' commit, made before anything is sent, takes the earlier entries too,
    # and says so; the result's commit holds the new entry (and the intent it retires).
    subject, body = git(repo, "log", "-1", "--format=%s%n%b", "HEAD~1").split("\n", 1)
    assert subject == "reconciler apply: about to create 1 request(s) [skip ci]"
    assert body.strip() == "Ledger files in this commit: 2 entries added, 1 intent file(s)."
    subject, body = git(repo, "log", "-1", "--format=%s%n%b").split("\n", 1)
    assert subject == "reconciler apply: 1 created [skip ci]"
    assert body.strip().endswith("\nLedger files in this commit: 1 entry added, 1 intent file(s).")
    # Nothing applied now, but an earlier run's entry is still to commit: the subject says so.
    declare(repo, "req-d")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    assert run("-C", str(repo), "apply", "--auto-approve", "--commit").exit_code == 0
    subject, body = git(repo, "log", "-1", "--format=%s%n%b").split("\n", 1)
    assert subject == "reconciler apply: what an earlier run wrote [skip ci]"
    assert body.strip() == "Ledger files in this commit: 1 entry added."
