"""apply runs only on reviewed state: the apply branch, committed, not behind its remote.

Real git throughout (``git init`` in tmp_path, a bare remote, clones), the CLI through
CliRunner and once as a process, the emulator for Adobe. Each refusal is shown with what
reached the emulator, counted from its own records (tags decoded by tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONSENT, RECORD_DELETE, git, tagged_counts, write, writes

SETTINGS = "client:\n  requestsPerSecond: 1000\n"
FLAG_HINT = "or pass --allow-unreviewed to test locally. Nothing was applied"


def refusal(what: str, fix: str) -> str:
    return f"error: refusing to apply unreviewed state: {what}; {fix}, {FLAG_HINT}\n"


def apply(run, where: Path, *args: str):
    return run("-C", str(where), "apply", "--auto-approve", *args)


def nothing_reached_adobe(adobe) -> None:
    assert writes(adobe) == []
    assert tagged_counts(adobe) == {}
    assert adobe.admin.workorders() == []


@pytest.fixture
def reviewed(repo: Path) -> Path:
    """main with one record delete and the settings committed: reviewed state."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-a")
    return repo


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare remote whose main declares req-a."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    write(seed, "reconciler.yaml", SETTINGS)
    write(seed, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Declare req-a")
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "-q", "origin", "main")
    return remote


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    return where


# -- files not committed ---------------------------------------------------------------------


def _untracked(repo: Path) -> None:
    write(repo, "requests/new/req-c.yaml", CONSENT.format(name="req-c"))


def _modified(repo: Path) -> None:
    path = repo / "requests/req-a.yaml"
    path.write_text(path.read_text().replace("displayName: Example", "displayName: Local"))


def _staged(repo: Path) -> None:
    _modified(repo)
    git(repo, "add", "requests/req-a.yaml")


def _deleted(repo: Path) -> None:
    (repo / "requests/req-a.yaml").unlink()


def _settings(repo: Path) -> None:
    write(repo, "reconciler.yaml", SETTINGS + "limits:\n  maxIdentitiesPerRun: 5\n")


@pytest.mark.parametrize(
    ("change", "what", "fix"),
    [
        pytest.param(
            _untracked,
            "requests/new/req-c.yaml (untracked) is not committed",
            "commit it through a pull request",
            id="untracked",
        ),
        pytest.param(
            _modified,
            "requests/req-a.yaml (modified) is not committed",
            "commit it through a pull request",
            id="modified",
        ),
        pytest.param(
            _staged,
            "requests/req-a.yaml (staged) is not committed",
            "commit it through a pull request",
            id="staged",
        ),
        pytest.param(
            _deleted,
            "requests/req-a.yaml (deleted) is not committed",
            "commit it through a pull request",
            id="deleted",
        ),
        pytest.param(
            _settings,
            "reconciler.yaml (modified) is not committed",
            "commit it through a pull request",
            id="settings",
        ),
    ],
)
def test_a_file_not_committed_is_refused_before_adobe_is_asked(
    run, adobe, reviewed: Path, change, what: str, fix: str
) -> None:
    change(reviewed)
    result = apply(run, reviewed)
    assert result.exit_code == 1
    assert result.stderr == refusal(what, fix)
    assert adobe.admin.requests() == []  # not even a listing: refused before the plan
    assert not (reviewed / "ledger").exists()


def test_many_files_are_named_up_to_three_and_counted(run, adobe, reviewed: Path) -> None:
    for name in ("req-c", "req-d", "req-e", "req-f", "req-g"):
        write(reviewed, f"requests/{name}.yaml", CONSENT.format(name=name))
    _modified(reviewed)
    result = apply(run, reviewed)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        "requests/req-a.yaml (modified), requests/req-c.yaml (untracked), "
        "requests/req-d.yaml (untracked) and 3 more are not committed",
        "commit them through a pull request",
    )
    nothing_reached_adobe(adobe)


def test_files_that_are_not_requests_do_not_count(run, adobe, reviewed: Path) -> None:
    write(reviewed, ".gitignore", "*.swp\n")
    git(reviewed, "add", ".gitignore")
    git(reviewed, "commit", "-qm", "Ignore editor files")
    write(reviewed, "requests/.req-a.yaml.swp", "an editor's swap file\n")
    write(reviewed, "requests/NOTES.md", "not a request\n")
    write(reviewed, "notes.yaml", "outside the requests folder\n")
    result = apply(run, reviewed)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert tagged_counts(adobe) == {"req-a": 1}


def test_an_ignored_request_file_counts_since_it_would_be_applied(
    run, adobe, reviewed: Path
) -> None:
    write(reviewed, ".gitignore", "requests/scratch/\n")
    git(reviewed, "add", ".gitignore")
    git(reviewed, "commit", "-qm", "Ignore scratch requests")
    write(reviewed, "requests/scratch/req-x.yaml", CONSENT.format(name="req-x"))
    result = apply(run, reviewed)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        "requests/scratch/req-x.yaml (ignored) is not committed",
        "commit it through a pull request",
    )
    nothing_reached_adobe(adobe)
    assert adobe.admin.consents() == []


# -- the branch ------------------------------------------------------------------------------


def test_a_feature_branch_is_refused(run, adobe, reviewed: Path) -> None:
    git(reviewed, "checkout", "-q", "-b", "add-req-c")
    write(reviewed, "requests/req-c.yaml", CONSENT.format(name="req-c"))
    git(reviewed, "add", "-A")
    git(reviewed, "commit", "-qm", "Add req-c")
    result = apply(run, reviewed)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        "the branch checked out is add-req-c, not main, the branch pull requests merge into "
        "(reconciler.yaml apply.branch)",
        "merge add-req-c through a pull request and apply on main",
    )
    nothing_reached_adobe(adobe)
    # plan only reads: it runs anywhere.
    plan = run("-C", str(reviewed), "plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert writes(adobe) == []


def test_a_detached_head_is_refused(run, adobe, reviewed: Path) -> None:
    sha = git(reviewed, "rev-parse", "HEAD").strip()
    git(reviewed, "checkout", "-q", "--detach")
    result = apply(run, reviewed)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        f"HEAD is detached (at {sha[:12]}), not on main, the branch pull requests merge into "
        "(reconciler.yaml apply.branch)",
        "check out main (git checkout main)",
    )
    nothing_reached_adobe(adobe)


def test_the_apply_branch_is_a_setting(run, adobe, repo: Path) -> None:
    write(repo, "reconciler.yaml", SETTINGS + "apply:\n  branch: release\n")
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-a")
    on_main = apply(run, repo)
    assert on_main.exit_code == 1
    assert on_main.stderr == refusal(
        "the branch checked out is main, not release, the branch pull requests merge into "
        "(reconciler.yaml apply.branch)",
        "merge main through a pull request and apply on release",
    )
    nothing_reached_adobe(adobe)
    git(repo, "checkout", "-q", "-b", "release")
    on_release = apply(run, repo)
    assert on_release.exit_code == 0, on_release.output
    assert tagged_counts(adobe) == {"req-a": 1}


def test_the_apply_branch_must_be_a_branch_name(run, adobe, repo: Path) -> None:
    write(repo, "reconciler.yaml", "apply:\n  branch: ../main\n")
    result = run("-C", str(repo), "plan", "--offline")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: reconciler.yaml:2:11: apply.branch must be a plain branch name "
        "(letters, digits, . _ / -), e.g. main; see schemas/settings.schema.json\n"
    )


# -- a stale clone ---------------------------------------------------------------------------


def test_a_stale_clone_does_not_move_adobe_back(run, adobe, origin: Path, tmp_path: Path) -> None:
    ci = clone(origin, tmp_path / "ci")
    assert apply(run, ci, "--push").exit_code == 0
    stale = clone(origin, tmp_path / "stale")  # has the ledger, and then falls behind
    # A reviewed rename reaches main and is applied from an up-to-date clone.
    path = ci / "requests/req-a.yaml"
    path.write_text(path.read_text().replace("displayName: Example", "displayName: Renamed"))
    git(ci, "commit", "-qam", "Rename req-a")
    git(ci, "push", "-q", "origin", "main")
    renamed = apply(run, ci, "--push")
    assert renamed.exit_code == 0 and "1 updated" in renamed.output, renamed.output
    sent = writes(adobe)
    # The stale clone has fetched (an editor does, say), and not pulled.
    git(stale, "fetch", "-q", "origin")
    result = apply(run, stale)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        "main is 2 commit(s) behind origin/main: this clone is stale and would apply older "
        "requests",
        "pull first (git pull)",
    )
    assert writes(adobe) == sent
    (order,) = adobe.admin.workorders()
    assert order["displayName"] == "Renamed"
    # Pulled, it has nothing to change.
    git(stale, "pull", "-q", "--ff-only")
    again = apply(run, stale)
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    assert writes(adobe) == sent


def test_a_stale_clone_with_an_uncommitted_file_is_told_both(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    ahead = clone(origin, tmp_path / "ahead")
    stale = clone(origin, tmp_path / "stale")
    write(ahead, "requests/req-c.yaml", CONSENT.format(name="req-c"))
    git(ahead, "add", "-A")
    git(ahead, "commit", "-qm", "Add req-c")
    git(ahead, "push", "-q", "origin", "main")
    git(stale, "fetch", "-q")
    write(stale, "requests/req-d.yaml", CONSENT.format(name="req-d"))
    result = apply(run, stale)
    assert result.exit_code == 1
    assert result.stderr == refusal(
        "requests/req-d.yaml (untracked) is not committed, and main is 1 commit(s) behind "
        "origin/main: this clone is stale and would apply older requests",
        "commit it through a pull request and pull first (git pull)",
    )
    nothing_reached_adobe(adobe)


def test_a_clone_ahead_of_its_remote_with_ledger_commits_applies(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    work = clone(origin, tmp_path / "work")
    assert apply(run, work, "--commit").exit_code == 0  # intents, then the ledger: not pushed
    assert git(work, "rev-list", "--count", "origin/main..main").strip() == "2"
    again = apply(run, work)
    assert again.exit_code == 0 and "No changes" in again.output, again.output
    assert tagged_counts(adobe) == {"req-a": 1}


# -- --allow-unreviewed ----------------------------------------------------------------------


def test_allow_unreviewed_applies_with_a_warning_and_says_so_in_the_ledger(
    run, adobe, reviewed: Path
) -> None:
    git(reviewed, "checkout", "-q", "-b", "try-req-c")
    write(reviewed, "requests/req-c.yaml", RECORD_DELETE.format(name="req-c"))
    result = apply(run, reviewed, "--allow-unreviewed", "--commit")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "warning: --allow-unreviewed: applying unreviewed state: the branch checked out is "
        "try-req-c, not main, the branch pull requests merge into (reconciler.yaml "
        "apply.branch); its ledger entries record no declaring commit (declaredIn null)"
    )
    assert tagged_counts(adobe) == {"req-a": 1, "req-c": 1}
    for name in ("req-a", "req-c"):
        entry = json.loads((reviewed / f"ledger/{name}.json").read_text())
        assert entry["declaredIn"] is None
    message = git(reviewed, "log", "-1", "--format=%B")
    assert message.splitlines()[:3] == [
        "reconciler apply: 2 created (unreviewed) [skip ci]",
        "",
        "Unreviewed (--allow-unreviewed): the branch checked out is try-req-c, not main, the "
        "branch pull requests merge into (reconciler.yaml apply.branch)",
    ]
    # The request file itself was not committed by apply: only the ledger was.
    assert git(reviewed, "status", "--porcelain", "-z") == "?? requests/req-c.yaml\0"


def test_reviewed_state_records_the_declaring_commit(run, adobe, reviewed: Path) -> None:
    result = apply(run, reviewed, "--allow-unreviewed", "--commit")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr  # reviewed: the flag changed nothing
    entry = json.loads((reviewed / "ledger/req-a.json").read_text())
    # HEAD is the ledger's commit, HEAD~1 that of the intents written before sending.
    assert entry["declaredIn"] == git(reviewed, "rev-parse", "HEAD~2").strip()
    assert git(reviewed, "log", "-1", "--format=%s").strip() == (
        "reconciler apply: 1 created [skip ci]"
    )


def test_outside_git_apply_needs_the_flag(run, adobe, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write(folder, "reconciler.yaml", SETTINGS)
    write(folder, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    refused = apply(run, folder)
    assert refused.exit_code == 1
    assert refused.stderr == refusal(
        f"{folder} is not in a git repository, so nothing in it was reviewed",
        "apply on main in a clone of the repository that pull requests merge into",
    )
    nothing_reached_adobe(adobe)
    allowed = apply(run, folder, "--allow-unreviewed")
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stderr.startswith(
        f"warning: --allow-unreviewed: applying unreviewed state: {folder} is not in a git "
        "repository"
    )
    assert tagged_counts(adobe) == {"req-a": 1}


# -- --push ----------------------------------------------------------------------------------


def test_push_on_a_feature_branch_is_refused_before_anything(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    work = clone(origin, tmp_path / "work")
    git(work, "checkout", "-q", "-b", "feature")
    before = git(origin, "for-each-ref", "--format=%(refname) %(objectname)")
    result = apply(run, work, "--allow-unreviewed", "--push")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the ledger is pushed only to main (reconciler.yaml apply.branch), and the "
        "branch checked out is feature: check out main to push, or commit without pushing. "
        "Nothing was pushed\n"
    )
    nothing_reached_adobe(adobe)
    assert not (work / "ledger").exists()
    # Not even the lease was taken: the remote's refs are as they were.
    assert git(origin, "for-each-ref", "--format=%(refname) %(objectname)") == before
    # Neither does `reconciler push` send a ledger there.
    pushed = run("-C", str(work), "push")
    assert pushed.exit_code == 1 and "the ledger is pushed only to main" in pushed.stderr
    assert git(origin, "for-each-ref", "--format=%(refname) %(objectname)") == before


def test_push_with_a_ledger_branch_goes_to_that_branch_only(
    run, adobe, origin: Path, tmp_path: Path
) -> None:
    work = clone(origin, tmp_path / "work")
    write(work, "reconciler.yaml", SETTINGS + "ledger:\n  branch: reconciler-ledger\n")
    git(work, "commit", "-qam", "The ledger on its own branch")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "feature")
    result = apply(run, work, "--allow-unreviewed", "--push")
    assert result.exit_code == 0, result.output
    assert "Ledger pushed to origin/reconciler-ledger" in result.output
    heads = git(origin, "for-each-ref", "--format=%(refname)", "refs/heads").split()
    assert heads == ["refs/heads/main", "refs/heads/reconciler-ledger"]
    assert tagged_counts(adobe) == {"req-a": 1}


def test_push_from_main_goes_to_main(run, adobe, origin: Path, tmp_path: Path) -> None:
    work = clone(origin, tmp_path / "work")
    result = apply(run, work, "--push")
    assert result.exit_code == 0, result.output
    assert "Ledger pushed to origin/main" in result.output
    assert git(origin, "rev-parse", "main") == git(work, "rev-parse", "HEAD")
    assert git(origin, "ls-tree", "--name-only", "main", "ledger/") == "ledger/req-a.json\n"


# -- as a user runs it -----------------------------------------------------------------------


def test_as_a_process_the_refusal_is_one_line_and_no_traceback(adobe, reviewed: Path) -> None:
    write(reviewed, "requests/req-c.yaml", CONSENT.format(name="req-c"))
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve"],
        cwd=reviewed / "requests",
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == refusal(
        "requests/req-c.yaml (untracked) is not committed", "commit it through a pull request"
    )
    nothing_reached_adobe(adobe)
