"""Pulling and pushing the ledger when two clones recorded the same request: real git, a
bare remote, two clones that each commit ``ledger/x.json`` and one of them pushes first."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import GitError
from reconciler.git.publish import pull, push, unreviewed
from reconciler.git.rebase import same_remote_ids
from reconciler.settings import load_settings
from tests.conftest import git


def entry(name: str, workorder: str, status: str = "submitted", **extra: Any) -> dict[str, Any]:
    """A record-delete ledger entry as the ledger writes it (fields of Entry.to_json)."""
    return {
        "apiVersion": "reconciler/v1",
        "name": name,
        "kind": "RecordDelete",
        "path": f"requests/{name}.yaml",
        "fingerprint": {"algorithm": "blake2b", "salt": "00", "digest": "11"},
        "submittedAt": "2026-03-01T10:00:00Z",
        "declaredIn": None,
        "displayName": "Example",
        "description": "Example description.",
        "identityCount": 2,
        "remote": {"workorderId": workorder},
        "status": {"value": status, "observedAt": "2026-03-01T10:00:00Z", "products": []},
        **extra,
    }


def put(clone: Path, rel: str, doc: dict[str, Any] | str) -> bytes:
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2) + "\n"
    path = clone / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text.encode()


def commit(clone: Path, message: str, *paths: str) -> str:
    git(clone, "add", "--", *paths)
    git(clone, "commit", "-qm", message)
    return head(clone)


def head(clone: Path) -> str:
    return git(clone, "rev-parse", "HEAD").strip()


def branch(clone: Path) -> str:
    return git(clone, "symbolic-ref", "--short", "HEAD").strip()


def mid_rebase(clone: Path) -> bool:
    return any((clone / ".git" / d).exists() for d in ("rebase-merge", "rebase-apply"))


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """Two clones of one bare remote; main holds a request folder and a README."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    put(seed, "requests/x.yaml", "kind: RecordDelete\n")
    put(seed, "README.md", "requests as code\n")
    commit(seed, "Start", "requests", "README.md")
    git(seed, "push", "-q", str(remote), "main")
    made = []
    for name in ("a", "b"):
        subprocess.run(["git", "clone", "-q", str(remote), str(tmp_path / name)], check=True)
        made.append(tmp_path / name)
    return made[0], made[1]


def published(a: Path, doc: dict[str, Any]) -> bytes:
    """Clone ``a`` records ``doc`` for x, with another change, and pushes."""
    raw = put(a, "ledger/x.json", doc)
    put(a, "notes/a.txt", "from a\n")
    commit(a, "a records x", "ledger/x.json", "notes/a.txt")
    git(a, "push", "-q", "origin", "main")
    return raw


def test_the_same_remote_ids_keep_the_published_entry_and_history_stays_linear(clones) -> None:
    a, b = clones
    upstream = published(a, entry("x", "DI-1", status="completed"))
    put(b, "ledger/x.json", entry("x", "DI-1", status="submitted", intent="i-7"))
    commit(b, "b records x", "ledger/x.json")
    put(b, "notes/b.txt", "from b\n")
    mine = commit(b, "b notes", "notes/b.txt")
    pull(load_settings(b), "origin")
    assert branch(b) == "main" and not mid_rebase(b)
    assert (b / "ledger/x.json").read_bytes() == upstream
    assert (b / "notes/a.txt").read_text() == "from a\n"
    assert (b / "notes/b.txt").read_text() == "from b\n"
    assert git(b, "rev-list", "--merges", "HEAD").strip() == ""
    # b's ledger commit has nothing left to say and is dropped; its other commit is replayed.
    subjects = git(b, "log", "--format=%s", "origin/main..HEAD").splitlines()
    assert subjects == ["b notes"] and head(b) != mine
    assert git(b, "status", "--porcelain") == ""


def test_conflicts_at_several_steps_of_one_rebase_are_all_settled(clones) -> None:
    a, b = clones
    put(a, "ledger/y.json", entry("y", "DI-2", status="completed"))
    commit(a, "a records y", "ledger/y.json")
    upstream = published(a, entry("x", "DI-1", status="completed"))
    for name, workorder in (("x", "DI-1"), ("y", "DI-2")):
        put(b, f"ledger/{name}.json", entry(name, workorder))
        put(b, f"notes/b-{name}.txt", f"{name}\n")
        commit(b, f"b records {name}", f"ledger/{name}.json", f"notes/b-{name}.txt")
    pull(load_settings(b), "origin")
    assert branch(b) == "main" and not mid_rebase(b)
    assert (b / "ledger/x.json").read_bytes() == upstream
    assert json.loads((b / "ledger/y.json").read_text())["status"]["value"] == "completed"
    subjects = git(b, "log", "--format=%s", "origin/main..HEAD").splitlines()
    assert subjects == ["b records y", "b records x"]
    assert {p.name for p in (b / "notes").iterdir()} == {"a.txt", "b-x.txt", "b-y.txt"}


def test_different_remote_ids_without_a_resolver_undo_the_rebase(clones) -> None:
    a, b = clones
    published(a, entry("x", "DI-1"))
    local = put(b, "ledger/x.json", entry("x", "DI-9"))
    mine = commit(b, "b records x", "ledger/x.json")
    put(b, "README.md", "an edit not committed\n")
    with pytest.raises(GitError) as e:
        pull(load_settings(b), "origin")
    assert str(e.value) == (
        "could not update main from origin: ledger/x.json record different remote ids here "
        "and upstream (both runs may have created it at Adobe). The rebase was undone: main is "
        f"back at {mine[:12]}, nothing was lost; check which exists at Adobe, keep that entry "
        "(git pull --rebase and settle the conflict, git rebase --continue), then run again"
    )
    assert branch(b) == "main" and head(b) == mine and not mid_rebase(b)
    assert (b / "ledger/x.json").read_bytes() == local
    assert (b / "README.md").read_text() == "an edit not committed\n"


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_resolver_picks_the_entry_to_keep(clones, side) -> None:
    a, b = clones
    upstream_doc, local_doc = entry("x", "DI-1"), entry("x", "DI-9")
    upstream = published(a, upstream_doc)
    local = put(b, "ledger/x.json", local_doc)
    commit(b, "b records x", "ledger/x.json")
    calls = []

    def resolve(name, ours, theirs):
        calls.append((name, dict(ours), dict(theirs)))
        return ours if side == "ours" else theirs

    pull(load_settings(b), "origin", resolve=resolve)
    assert calls == [("x", local_doc, upstream_doc)]
    assert branch(b) == "main" and not mid_rebase(b)
    assert (b / "ledger/x.json").read_bytes() == (local if side == "ours" else upstream)
    assert git(b, "merge-base", "--is-ancestor", "origin/main", "HEAD") == ""


def test_a_new_entry_from_the_resolver_is_written_as_the_ledger_writes(clones) -> None:
    a, b = clones
    published(a, entry("x", "DI-1"))
    put(b, "ledger/x.json", entry("x", "DI-9"))
    commit(b, "b records x", "ledger/x.json")
    kept = entry("x", "DI-1", status="completed", recovered=True)
    pull(load_settings(b), "origin", resolve=lambda name, ours, theirs: kept)
    assert (b / "ledger/x.json").read_text() == json.dumps(kept, indent=2) + "\n"
    assert git(b, "show", "HEAD:ledger/x.json") == json.dumps(kept, indent=2) + "\n"


def test_a_resolver_that_cannot_tell_undoes_the_rebase(clones) -> None:
    a, b = clones
    published(a, entry("x", "DI-1"))
    put(b, "ledger/x.json", entry("x", "DI-9"))
    mine = commit(b, "b records x", "ledger/x.json")
    with pytest.raises(GitError, match="ledger/x.json record different remote ids"):
        pull(load_settings(b), "origin", resolve=lambda name, ours, theirs: None)
    assert branch(b) == "main" and head(b) == mine and not mid_rebase(b)


def test_a_resolver_that_fails_undoes_the_rebase_and_its_error_goes_through(clones) -> None:
    a, b = clones
    published(a, entry("x", "DI-1"))
    put(b, "ledger/x.json", entry("x", "DI-9"))
    mine = commit(b, "b records x", "ledger/x.json")

    def resolve(name, ours, theirs):
        raise GitError("Adobe could not be asked")

    with pytest.raises(GitError, match="^Adobe could not be asked$"):
        pull(load_settings(b), "origin", resolve=resolve)
    assert branch(b) == "main" and head(b) == mine and not mid_rebase(b)


@pytest.mark.parametrize("with_ledger", [False, True], ids=["readme", "readme-and-ledger"])
def test_a_conflict_outside_the_ledger_undoes_the_rebase(clones, with_ledger) -> None:
    a, b = clones
    put(a, "README.md", "a's words\n")
    commit(a, "a edits the README", "README.md")
    published(a, entry("x", "DI-1"))
    put(b, "README.md", "b's words\n")
    if with_ledger:
        put(b, "ledger/x.json", entry("x", "DI-1", status="completed"))  # settled on its own
    mine = commit(b, "b edits the README", "README.md", *(["ledger"] if with_ledger else []))
    with pytest.raises(GitError) as e:
        pull(load_settings(b), "origin", resolve=lambda name, ours, theirs: ours)
    named = "README.md and ledger/x.json" if with_ledger else "README.md"
    assert str(e.value).startswith(
        f"could not update main from origin: {named} changed here and upstream in ways git "
        f"cannot merge. The rebase was undone: main is back at {mine[:12]}"
    )
    assert branch(b) == "main" and head(b) == mine and not mid_rebase(b)


def test_a_ledger_entry_deleted_on_one_side_undoes_the_rebase(clones) -> None:
    a, b = clones
    published(a, entry("x", "DI-1"))
    git(b, "pull", "-q", "origin", "main")
    git(a, "rm", "-q", "ledger/x.json")
    git(a, "commit", "-qm", "a forgets x")
    git(a, "push", "-q", "origin", "main")
    put(b, "ledger/x.json", entry("x", "DI-1", status="completed"))
    mine = commit(b, "b refreshes x", "ledger/x.json")
    with pytest.raises(GitError, match="ledger/x.json deleted on one side"):
        pull(load_settings(b), "origin")
    assert branch(b) == "main" and head(b) == mine and not mid_rebase(b)


def test_push_settles_the_conflict_on_its_retry_and_publishes(clones) -> None:
    a, b = clones
    upstream = published(a, entry("x", "DI-1", status="completed"))
    put(b, "ledger/x.json", entry("x", "DI-1"))
    put(b, "ledger/z.json", entry("z", "DI-3"))
    commit(b, "b records x and z", "ledger")
    assert push(load_settings(b), "origin") == "rebased"
    remote = a.parent / "origin.git"
    assert git(remote, "show", "main:ledger/x.json").encode() == upstream
    assert json.loads(git(remote, "show", "main:ledger/z.json"))["remote"] == {
        "workorderId": "DI-3"
    }
    assert head(b) == git(remote, "rev-parse", "main").strip()


def left_mid_rebase(a: Path, b: Path) -> None:
    """What a run killed during its pull leaves: b stopped on a ledger conflict."""
    published(a, entry("x", "DI-1"))
    put(b, "ledger/x.json", entry("x", "DI-9"))
    commit(b, "b records x", "ledger/x.json")
    done = subprocess.run(
        ["git", "pull", "-q", "--rebase", "origin", "main"],
        cwd=b,
        capture_output=True,
        env={**os.environ},
    )
    assert done.returncode != 0 and mid_rebase(b)


@pytest.mark.parametrize("command", [pull, push], ids=["pull", "push"])
def test_a_repository_left_mid_rebase_is_refused_with_the_fix(clones, command) -> None:
    a, b = clones
    left_mid_rebase(a, b)
    with pytest.raises(GitError) as e:
        command(load_settings(b), "origin")
    assert str(e.value) == (
        f"{b.resolve()} is in the middle of a rebase, left unfinished by an earlier run or by "
        f"hand: undo it (git -C {b.resolve()} rebase --abort) or finish it, then run again"
    )
    assert mid_rebase(b)  # left for a person to decide: nothing is guessed


def test_a_detached_head_is_refused_with_the_fix(clones) -> None:
    _, b = clones
    git(b, "checkout", "-q", "--detach")
    with pytest.raises(GitError, match=r"^HEAD is detached in .*; check out the branch"):
        pull(load_settings(b), "origin")


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        pytest.param(entry("x", "DI-1"), entry("x", "DI-1", "completed"), True, id="status"),
        pytest.param(entry("x", "DI-1"), entry("x", "DI-1", intent="i-1"), True, id="unknown"),
        pytest.param(entry("x", "DI-1"), entry("x", "DI-2"), False, id="work-order"),
        pytest.param(
            entry("x", "DI-1"), entry("x", "DI-1") | {"kind": "PrivacyJob"}, False, id="kind"
        ),
        pytest.param(
            {"kind": "PrivacyJob", "remote": {"requestId": "r", "jobs": [{"jobId": "1"}]}},
            {"kind": "PrivacyJob", "remote": {"requestId": "r", "jobs": [{"jobId": "2"}]}},
            False,
            id="jobs",
        ),
        pytest.param(
            {"kind": "PrivacyJob", "remote": {"jobs": [{"jobId": "1"}, {"jobId": "2"}]}},
            {
                "kind": "PrivacyJob",
                "remote": {"jobs": [{"jobId": "2", "userKey": "k"}, {"jobId": "1"}]},
            },
            True,
            id="jobs-in-another-order",
        ),
        pytest.param(
            {"kind": "DatasetExpiration", "remote": {"ttlId": "t-1"}},
            {"kind": "DatasetExpiration", "remote": {}},
            False,
            id="one-side-without-id",
        ),
    ],
)
def test_which_entries_record_the_same_remote_ids(ours, theirs, same) -> None:
    assert same_remote_ids(ours, theirs) is same


def test_apply_calls_a_repository_left_mid_rebase_unreviewed_with_the_fix(clones) -> None:
    a, b = clones
    left_mid_rebase(a, b)
    (problem,) = unreviewed(load_settings(b), "origin")
    top = b.resolve()
    assert problem.what == (
        f"{top} is in the middle of a rebase, left unfinished by an earlier run or by hand"
    )
    assert problem.fix == f"undo it (git -C {top} rebase --abort) or finish it"


def test_a_ledger_on_its_own_branch_is_settled_the_same_way(clones) -> None:
    from reconciler.git.ledgerbranch import attach

    trees, upstream = [], b""
    for clone, status in zip(clones, ("completed", "submitted"), strict=True):
        put(clone, "reconciler.yaml", "ledger:\n  branch: reconciler-ledger\n")
        tree = attach(load_settings(clone), "origin").ledger_root
        assert tree is not None
        raw = put(tree, "ledger/x.json", entry("x", "DI-1", status=status))
        commit(tree, f"{clone.name} records x", "ledger/x.json")
        trees.append(tree)
        upstream = upstream or raw
    git(trees[0], "push", "-q", "origin", "reconciler-ledger")
    settings = attach(load_settings(clones[1]), "origin")
    pull(settings, "origin")
    assert branch(trees[1]) == "reconciler-ledger"
    assert (trees[1] / "ledger/x.json").read_bytes() == upstream
    assert push(settings, "origin") == "unchanged"


def test_a_clone_without_a_committer_replays_its_commits_as_the_bot(clones, monkeypatch) -> None:
    a, b = clones
    upstream = published(a, entry("x", "DI-1", status="completed"))
    put(b, "ledger/x.json", entry("x", "DI-1"))
    put(b, "notes/b.txt", "from b\n")
    commit(b, "b records x", "ledger/x.json", "notes/b.txt")
    # What a CI checkout has: no identity anywhere (no user.email, no GIT_* variables).
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("EMAIL", "")
    pull(load_settings(b), "origin", env={})
    assert (b / "ledger/x.json").read_bytes() == upstream
    who = git(b, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert (
        who
        == "Ada Author <ada@example.com>|reconciler-bot <reconciler-bot@users.noreply.github.com>"
    )
