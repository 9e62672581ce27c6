"""The repository lock: status, import and push take it as apply does, and it lives in
the git directory every work tree shares, never among a work tree's files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.reconcile.lock import lock_path, repository_lock
from tests.conftest import CONSENT, RECORD_DELETE, git, write, writes

HELD = re.compile(
    r"^error: another reconciler run holds the lock on this repository \(reconciler apply, "
    rf"pid {os.getpid()}, since [0-9T:Z.+-]+\); wait for it to finish and run (\w+) again "
    r"\(nothing was written\)$"
)


@pytest.fixture
def applied(run, adobe, repo: Path) -> Path:
    """Two requests committed and applied: the ledger holds their entries."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    done = run("-C", str(repo), "apply", "--auto-approve", "--commit")
    assert done.exit_code == 0, done.output
    return repo


def common_dir(work_tree: Path) -> Path:
    out = git(work_tree, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(out.strip()).resolve()


def files_of(work_tree: Path) -> list[str]:
    """Every file in the work tree, git's own directory (or .git file) left out."""
    return sorted(
        p.relative_to(work_tree).as_posix()
        for p in work_tree.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(work_tree).parts
    )


def refused(result, command: str) -> None:
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    match = HELD.match(line)
    assert match is not None, line
    assert match.group(1) == command


def test_status_refuses_while_an_apply_holds_the_lock(run, adobe, applied: Path) -> None:
    ledger = {p.name: p.read_bytes() for p in (applied / "ledger").iterdir()}
    adobe.admin.advance(5 * 3600)  # a refresh would now change the statuses
    calls = len(adobe.admin.requests())
    with repository_lock(applied):
        refused(run("-C", str(applied), "status"), "status")
    assert len(adobe.admin.requests()) == calls
    assert {p.name: p.read_bytes() for p in (applied / "ledger").iterdir()} == ledger
    # Once the apply is done, status runs and writes.
    done = run("-C", str(applied), "status")
    assert done.exit_code == 0, done.output
    assert (applied / "ledger/req-a.json").read_bytes() != ledger["req-a.json"]


def test_import_refuses_while_an_apply_holds_the_lock(run, adobe, repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    before = files_of(repo)
    before_writes = len(writes(adobe))
    with repository_lock(repo):
        refused(run("-C", str(repo), "import", "DI-00000000-0000-4000-8000-000000000000"), "import")
    assert files_of(repo) == before
    assert len(writes(adobe)) == before_writes


def test_push_refuses_while_an_apply_holds_the_lock(run, adobe, applied: Path) -> None:
    with repository_lock(applied):
        refused(run("-C", str(applied), "push"), "push")


def test_status_as_a_subprocess_refuses(adobe, applied: Path) -> None:
    with repository_lock(applied):
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "status"],
            cwd=applied / "requests",
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
    assert done.returncode == 1
    assert "another reconciler run holds the lock on this repository (reconciler apply" in (
        done.stderr
    )
    assert "run status again (nothing was written)" in done.stderr


def test_in_a_linked_work_tree_the_lock_is_in_the_common_git_dir(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    linked = tmp_path / "linked work tree"
    git(repo, "checkout", "-q", "-b", "work")  # main, the branch apply runs on, moves there
    git(repo, "worktree", "add", "-q", str(linked), "main")
    assert (linked / ".git").is_file()
    expected = common_dir(linked) / "reconciler-apply.lock"
    assert common_dir(linked) == (repo / ".git").resolve()
    assert lock_path(linked) == lock_path(repo / "requests") == expected
    done = run("-C", str(linked), "apply", "--auto-approve", "--commit")
    assert done.exit_code == 0, done.output
    assert expected.is_file()
    # Neither work tree got a file of the lock's; git sees nothing new in either.
    assert files_of(linked) == ["ledger/req-b.json", "reconciler.yaml", "requests/req-b.yaml"]
    assert files_of(repo) == ["reconciler.yaml", "requests/req-b.yaml"]
    for tree in (linked, repo):
        assert git(tree, "status", "--porcelain", "--ignored", "-z") == ""


def test_a_run_in_a_linked_work_tree_excludes_one_in_the_main_one(
    run, adobe, applied: Path, tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    git(applied, "worktree", "add", "-q", str(linked))
    with repository_lock(linked):
        refused(run("-C", str(applied), "status"), "status")
        refused(run("-C", str(applied), "apply", "--auto-approve"), "apply")
