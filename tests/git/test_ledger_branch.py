"""The ledger on a branch of its own, against a remote whose main refuses direct pushes.

Real git throughout: a bare remote with a pre-receive hook standing in for branch
protection (only a merge of a reviewed pull request may move main), fresh clones
for each CI run, the emulator for Adobe.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import GitError
from reconciler.git.ledgerbranch import attach, worktree_path
from reconciler.git.repo import open_repo
from reconciler.settings import load_settings
from tests.conftest import CONSENT, RECORD_DELETE, git, tagged_counts, write, writes
from tests.git.test_gitops_loop import as_

BRANCH = "reconciler-ledger"
SETTINGS = f"client:\n  requestsPerSecond: 1000\nledger:\n  branch: {BRANCH}\n"
# Branch protection, as a hook: main moves only when the push says it is a reviewed merge.
PROTECT_MAIN = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/main ] && [ "${MERGED_BY_REVIEW:-}" != 1 ]; then
    echo "protected branch: main can only change through a reviewed pull request" >&2
    exit 1
  fi
done
"""
REVIEWED = {"MERGED_BY_REVIEW": "1"}


def sh_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return as_(env or {}, cwd, *args)


def remote_sha(remote: Path, ref: str) -> str:
    return sh_git(remote, "rev-parse", "--verify", "--quiet", ref)


def protect_main(remote: Path) -> None:
    """Branch protection on a bare remote: main moves only by a reviewed merge."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(PROTECT_MAIN)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare remote whose main is protected, holding one request on main."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    protect_main(remote)
    seed = tmp_path / "seed"
    write(seed, "reconciler.yaml", SETTINGS)
    write(seed, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Start")
    git(seed, "remote", "add", "origin", str(remote))
    sh_git(seed, "push", "-q", "origin", "main", env=REVIEWED)
    return remote


def fresh_clone(origin: Path, where: Path) -> Path:
    """What a CI job checks out: the whole history, every branch as origin/*."""
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


def test_protected_main_the_whole_loop(run, adobe, origin: Path, tmp_path: Path) -> None:
    main_before = remote_sha(origin, "refs/heads/main")
    # The hook really protects main: a direct push is refused.
    probe = fresh_clone(origin, tmp_path / "probe")
    sh_git(probe, "commit", "-q", "--allow-empty", "-m", "direct")
    refused = subprocess.run(
        ["git", "push", "-q", "origin", "HEAD:main"], cwd=probe, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "protected branch" in refused.stderr

    # The first apply on main: creates req-b and pushes the ledger to its own branch only.
    ci = fresh_clone(origin, tmp_path / "ci-1")
    applied = run("-C", str(ci), "apply", "--auto-approve", "--push")
    assert applied.exit_code == 0, applied.output
    assert "1 created" in applied.output and f"Ledger pushed to origin/{BRANCH}" in applied.output
    assert remote_sha(origin, "refs/heads/main") == main_before
    assert sh_git(ci, "rev-parse", "HEAD") == main_before
    assert sh_git(ci, "status", "--porcelain") == ""  # nothing of the ledger in main's tree
    ledger_files = sh_git(origin, "ls-tree", "-r", "--name-only", f"refs/heads/{BRANCH}")
    assert ledger_files.splitlines() == ["ledger/req-b.json"]
    assert "@example.com" not in sh_git(origin, "show", f"refs/heads/{BRANCH}:ledger/req-b.json")
    assert sh_git(origin, "for-each-ref", "refs/reconciler/") == ""  # the lease was released

    # A pull request adds req-a; its check (a fresh clone, no secrets) reads the ledger from
    # the ledger branch: req-b is known, only req-a is to be created.
    pr = fresh_clone(origin, tmp_path / "pr")
    sh_git(pr, "checkout", "-q", "-b", "add-req-a")
    write(pr, "requests/deletes/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    sh_git(pr, "add", "-A")
    sh_git(pr, "commit", "-qm", "Add req-a")
    sh_git(pr, "push", "-q", "origin", "add-req-a")
    assert run("-C", str(pr), "validate", "--base", "origin/main").exit_code == 0
    offline = run("-C", str(pr), "plan", "--offline", "--format", "json")
    assert offline.exit_code == 0, offline.output
    actions = {a["name"]: a["action"] for a in json.loads(offline.output)["actions"]}
    assert actions == {"req-a": "create", "req-b": "noop"}

    # The review merges it (the only way main moves).
    merger = fresh_clone(origin, tmp_path / "merger")
    sh_git(merger, "merge", "-q", "--no-ff", "origin/add-req-a", "-m", "Merge req-a")
    sh_git(merger, "push", "-q", "origin", "main", env=REVIEWED)
    merged = remote_sha(origin, "refs/heads/main")

    # The apply job on the merge: one create, the ledger pushed, main untouched.
    ci2 = fresh_clone(origin, tmp_path / "ci-2")
    second = run("-C", str(ci2), "apply", "--auto-approve", "--commit")
    assert second.exit_code == 0, second.output
    assert "1 created" in second.output and "Ledger committed" in second.output
    pushed = run("-C", str(ci2), "push")
    assert pushed.exit_code == 0 and f"Ledger pushed to origin/{BRANCH}" in pushed.output
    assert remote_sha(origin, "refs/heads/main") == merged
    assert tagged_counts(adobe) == {"req-a": 1}

    # Another run from another fresh clone sends nothing and commits nothing.
    before = len(writes(adobe))
    ci3 = fresh_clone(origin, tmp_path / "ci-3")
    again = run("-C", str(ci3), "apply", "--auto-approve", "--push")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output and "Ledger unchanged" in again.output
    assert len(writes(adobe)) == before
    nothing = run("-C", str(ci3), "push")
    assert "Ledger unchanged" in nothing.output

    # Status and audit work from a fresh clone that only has origin/<branch>.
    adobe.admin.advance(5 * 3600)
    viewer = fresh_clone(origin, tmp_path / "viewer")
    status = run("-C", str(viewer), "status", "--commit")
    assert status.exit_code == 0, status.output
    assert "req-a" in status.output and "completed" in status.output
    assert run("-C", str(viewer), "push").exit_code == 0
    assert remote_sha(origin, "refs/heads/main") == merged
    audit = run("-C", str(viewer), "audit", "req-a", "--format", "json")
    assert audit.exit_code == 0, audit.output
    events = [e["event"] for e in json.loads(audit.output)["requests"][0]["events"]]
    assert events[:2] == ["declared", "merged"] and "applied" in events and "status" in events
    last = json.loads(sh_git(origin, "show", f"refs/heads/{BRANCH}:ledger/req-a.json"))
    assert last["status"]["value"] == "completed"


def test_a_stale_local_ledger_branch_is_fast_forwarded(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    reader = fresh_clone(origin, tmp_path / "reader")
    # The reader attaches first (no ledger branch anywhere yet: an empty one is started).
    assert run("-C", str(reader), "plan", "--offline").exit_code == 0
    assert not (worktree_path_of(reader) / "ledger").exists()
    started = sh_git(reader, "rev-parse", BRANCH)
    ci = fresh_clone(origin, tmp_path / "ci")
    # Started apart, in another clone: the same first commit, whatever the clock says, so
    # the two clones' ledger histories are one history.
    assert run("-C", str(ci), "apply", "--auto-approve", "--push").exit_code == 0
    assert sh_git(origin, "rev-list", "--max-parents=0", BRANCH) == started
    # The reader's local branch is behind origin's after a fetch: reads see the new entry.
    sh_git(reader, "fetch", "-q", "origin")
    offline = run("-C", str(reader), "plan", "--offline", "--format", "json")
    assert {a["name"]: a["action"] for a in json.loads(offline.output)["actions"]} == {
        "req-b": "noop"
    }


def worktree_path_of(clone: Path) -> Path:
    common = Path(sh_git(clone, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    assert worktree_path(open_repo(clone)) == common.resolve() / "reconciler" / "ledger"
    return worktree_path(open_repo(clone))


def test_unpushed_ledger_commits_survive_and_are_pushed_by_rebase(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    one = fresh_clone(origin, tmp_path / "one")
    assert run("-C", str(one), "apply", "--auto-approve", "--commit").exit_code == 0
    # Meanwhile another clone pushed a ledger commit of its own (status of nothing new).
    other = fresh_clone(origin, tmp_path / "other")
    settings = attach(load_settings(other, {}))
    write(settings.ledger_root or other, "ledger/README.md", "made elsewhere\n")
    sh_git(settings.ledger_root or other, "add", "-A")
    sh_git(settings.ledger_root or other, "commit", "-qm", "elsewhere")
    sh_git(settings.ledger_root or other, "push", "-q", "origin", BRANCH)
    # The first clone's push is rejected once, rebased, and lands beside the other commit.
    pushed = run("-C", str(one), "push")
    assert pushed.exit_code == 0, pushed.output
    files = sh_git(origin, "ls-tree", "-r", "--name-only", f"refs/heads/{BRANCH}").splitlines()
    assert files == ["ledger/README.md", "ledger/req-b.json"]


def test_the_ledger_branch_must_not_be_the_requests_branch(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    write(repo, "reconciler.yaml", "ledger:\n  branch: main\n")
    git(repo, "init", "-q", "-b", "main")
    with pytest.raises(GitError, match="needs a branch of its own"):
        attach(load_settings(repo, {}))


def test_a_bad_branch_name_is_a_settings_error(run, tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "ledger:\n  branch: 'a..b'\n")
    result = run("-C", str(tmp_path), "plan", "--offline")
    assert result.exit_code == 1
    assert "reconciler.yaml:2:" in result.output and "plain branch name" in result.output


def test_push_as_a_subprocess_uses_the_token_from_the_environment(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    """The token reaches git through a credential helper, never on a command line or disk."""
    ci = fresh_clone(origin, tmp_path / "ci")
    assert run("-C", str(ci), "apply", "--auto-approve", "--commit").exit_code == 0
    # A helper that records what git asks for proves the token is offered to git as the
    # password; a file remote never asks, so call the credential machinery directly.
    env = {**os.environ, "LEDGER_PUSH_TOKEN": "tok-3f9a-not-a-real-token"}
    from reconciler.git.publish import credentials

    filled = subprocess.run(
        ["git", "credential", "fill"],
        cwd=ci,
        input="protocol=https\nhost=github.com\n\n",
        capture_output=True,
        text=True,
        env={**env, **credentials(env)},
        check=True,
    ).stdout
    assert "username=x-access-token" in filled
    assert "password=tok-3f9a-not-a-real-token" in filled
    pushed = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(ci), "push"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "tok-3f9a" not in pushed.stdout + pushed.stderr
    config = (ci / ".git" / "config").read_text()
    assert "tok-3f9a" not in config and "credential" not in config
