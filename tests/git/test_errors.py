"""Git failures come out as GitError (exit 1, one line saying what failed and what to
do), never as gitpython's exceptions or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import GitError
from reconciler.git.history import log_changes
from reconciler.git.repo import blobs_at, find_repo, open_repo, require_commit
from tests.conftest import RECORD_DELETE, git, write


@pytest.fixture
def committed(repo: Path) -> Path:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare req-a")
    return repo


def remove_object(repo: Path, rev: str) -> str:
    """Delete the loose object ``rev`` names, as a damaged disk or a bad copy would."""
    sha = git(repo, "rev-parse", rev).strip()
    loose = repo / ".git" / "objects" / sha[:2] / sha[2:]
    loose.chmod(0o644)
    loose.unlink()
    return sha


def error_line(run, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_outside_git(run, tmp_path: Path) -> None:
    write(tmp_path / "plain", "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    line = error_line(run, "-C", str(tmp_path / "plain"), "audit")
    assert line == (
        f"error: {tmp_path / 'plain'} is not inside a git repository; audit needs one "
        "(git init, or run in a clone)"
    )
    assert find_repo(tmp_path / "plain") is None


def test_an_unreadable_git_directory(run, committed: Path) -> None:
    (committed / ".git" / "HEAD").write_text("not a ref\n")
    line = error_line(run, "-C", str(committed), "validate", "--base", "main")
    assert line.startswith(f"error: {committed / '.git'} is there but git cannot read it")
    assert "check it with git fsck" in line
    with pytest.raises(GitError, match="git cannot read it"):
        find_repo(committed / "requests")


def test_a_linked_work_tree_whose_repository_is_gone(run, committed: Path) -> None:
    linked = committed.parent / "linked"
    git(committed, "worktree", "add", "-q", str(linked))
    git(committed, "worktree", "remove", "--force", str(linked))
    write(linked, ".git", f"gitdir: {committed}/.git/worktrees/linked\n")
    line = error_line(run, "-C", str(linked), "audit")
    assert line.startswith(f"error: {linked / '.git'} is there but git cannot read it")


def test_a_missing_blob_at_the_base(run, committed: Path) -> None:
    remove_object(committed, "HEAD:requests/req-a.yaml")
    line = error_line(run, "-C", str(committed), "validate", "--base", "HEAD")
    assert line == (
        "error: could not read requests/req-a.yaml at "
        f"{git(committed, 'rev-parse', 'HEAD').strip()}: the repository may be damaged: "
        "check it with git fsck"
    )
    assert "example.com" not in line


def test_a_missing_commit_is_not_an_empty_history(run, committed: Path) -> None:
    remove_object(committed, "HEAD")
    line = error_line(run, "-C", str(committed), "audit")
    assert line.startswith("error: could not read the history: fatal: bad object HEAD")
    assert line.endswith("the repository may be damaged: check it with git fsck")
    with pytest.raises(GitError, match="names no commit git can read"):
        require_commit(open_repo(committed), "HEAD")


def test_an_unknown_revision(committed: Path) -> None:
    repo = open_repo(committed / "requests")
    with pytest.raises(GitError, match=r"^unknown git revision '-x'; fetch it first"):
        require_commit(repo, "-x")
    assert require_commit(repo, "main") == git(committed, "rev-parse", "main").strip()
    (path, content), *_ = blobs_at(repo, "main", "requests")
    assert path == "requests/req-a.yaml"
    assert content == (committed / "requests/req-a.yaml").read_bytes()


def test_git_not_installed(committed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    repo = open_repo(committed)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GitError) as caught:
        log_changes(repo, ["requests"])
    assert str(caught.value) == (
        "could not read the revision 'HEAD': git is not installed or not on PATH: install git"
    )


def test_as_a_subprocess_the_message_is_one_line(committed: Path) -> None:
    remove_object(committed, "HEAD")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "audit", "req-a"],
        cwd=committed,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: could not read the history: fatal: bad object HEAD")
    assert len(done.stderr.splitlines()) == 1
