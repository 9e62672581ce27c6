"""Rebasing the ledger's branch onto its remote, never leaving it mid-rebase.

A clone that committed its ledger but did not push, while another clone recorded
the same request, conflicts on ``ledger/NAME.json`` when it rebases. Such a
conflict is settled here, one replayed commit after another:

* both sides record the same remote ids (the same work order, job or expiration):
  the remote's side is kept, since it is already published;
* otherwise the resolver, when given, picks the entry to keep (it can ask Adobe
  which of the two objects exists);
* anything else (no resolver, the resolver says None, a file outside the ledger
  folder, an entry deleted on one side) undoes the whole rebase: the branch is
  back at the commit it was at, and a :class:`~reconciler.errors.GitError` names
  the files and what to do.

A repository an earlier run left mid-rebase, mid-merge or on a detached HEAD is
refused at once with the fix (:func:`check_not_mid_operation`).

Errors: :class:`reconciler.errors.GitError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import git

from reconciler.errors import GitError
from reconciler.git.repo import (
    Repository,
    commit_of,
    current_branch,
    detail,
    fields,
    run,
    show,
)

Resolver = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any] | None]
"""``resolve(name, ours, theirs)``: the ledger entry to keep for request ``name`` when
this clone's entry (``ours``: the local commit not yet pushed) and the remote's
(``theirs``: already published upstream) record different remote ids; None when it
cannot tell, which undoes the rebase. Either side may be returned, or a new entry."""

# The remote identifiers of an entry (reconciler.reconcile.ledger.Entry.to_json): what
# says which objects at Adobe the entry stands for. Anything else may differ freely.
REMOTE_ID_KEYS = ("workorderId", "ttlId", "requestId")
SHOWN_FILES = 5
# What an interrupted git operation leaves in the git directory, and how it is undone.
UNFINISHED = (
    ("rebase-merge", "a rebase", "git rebase --abort"),
    ("rebase-apply", "a rebase", "git rebase --abort"),
    ("MERGE_HEAD", "a merge", "git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --abort"),
)


class _Unsettled(Exception):
    """A conflict this module does not settle: the rebase is undone."""

    def __init__(self, paths: Sequence[str], why: str, fix: str) -> None:
        super().__init__(why)
        self.paths, self.why, self.fix = tuple(paths), why, fix


def _git_path(repo: Repository, name: str) -> Path:
    # Per work tree: a linked work tree (the ledger branch's) has its own rebase state.
    _, out = run(repo, "rev-parse", "--git-path", name, what="read the git directory")
    return repo.top / out.decode().strip()


def unfinished(repo: Repository) -> tuple[str, str] | None:
    """The git operation left unfinished in ``repo``'s work tree (what, how to undo it)."""
    for name, what, undo in UNFINISHED:
        if _git_path(repo, name).exists():
            return what, undo
    return None


def check_not_mid_operation(repo: Repository) -> str:
    """The branch checked out in ``repo``; a :class:`GitError` with the fix when an earlier
    run (or a person) left it mid-rebase, mid-merge or on a detached HEAD."""
    found = unfinished(repo)
    if found is not None:
        what, undo = found
        raise GitError(
            f"{repo.top} is in the middle of {what}, left unfinished by an earlier run or by "
            f"hand: undo it (git -C {repo.top} {undo.removeprefix('git ')}) or finish it, "
            "then run again"
        )
    branch = current_branch(repo)
    if branch is None:
        raise GitError(
            f"HEAD is detached in {repo.top}; check out the branch to apply from (e.g. main)"
        )
    return branch


def same_remote_ids(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """Whether two ledger entries stand for the same objects at Adobe: same kind, same
    work order, expiration and request ids, same set of job ids. Other fields (status,
    timestamps, fields added by later versions) are not compared."""
    return _remote_ids(ours) == _remote_ids(theirs)


def _remote_ids(entry: Mapping[str, Any]) -> tuple[object, ...]:
    remote = entry.get("remote")
    remote = remote if isinstance(remote, Mapping) else {}
    jobs = remote.get("jobs")
    job_ids = sorted(
        str(job.get("jobId"))
        for job in (jobs if isinstance(jobs, list) else [])
        if isinstance(job, Mapping)
    )
    return (entry.get("kind"), *(remote.get(key) for key in REMOTE_ID_KEYS), tuple(job_ids))


def pull_rebase(
    repo: Repository,
    remote: str,
    branch: str,
    ledger_dir: str,
    resolve: Resolver | None = None,
) -> None:
    """``git pull --rebase --autostash <remote> <branch>``, its ledger conflicts settled
    (see the module's docstring); ``ledger_dir`` is the ledger folder from the top of
    the work tree. On any failure the branch is left where it was, never mid-rebase."""
    before = commit_of(repo, "HEAD")
    try:
        repo.handle.git.pull("-q", "--rebase", "--autostash", remote, branch)
    except git.GitCommandError as e:
        if unfinished(repo) is None:
            raise GitError(f"could not update {branch} from {remote}: {detail(e)}") from None
        try:
            _settle_all(repo, ledger_dir, resolve)
        except _Unsettled as why:
            _undo(repo, branch, before, remote)
            if not why.paths:  # git stopped for its own reason: its words say best
                why = _Unsettled((), detail(e), "")
            raise GitError(_unsettled_message(remote, branch, before, why)) from None
        except BaseException:
            _undo(repo, branch, before, remote)
            raise
    if unfinished(repo) is not None or current_branch(repo) != branch:
        _undo(repo, branch, before, remote)
        raise GitError(
            f"could not update {branch} from {remote}: the rebase did not finish; it was "
            f"undone and {branch} is back where it was"
        )


def _settle_all(repo: Repository, ledger_dir: str, resolve: Resolver | None) -> None:
    """Settle the conflicts of each replayed commit in turn, until the rebase is done."""
    while unfinished(repo) is not None:
        conflicted = _unmerged(repo)
        if not conflicted:
            raise _Unsettled((), "the rebase stopped without a conflict to settle", "")
        others = [p for p in conflicted if not _is_ledger_file(p, ledger_dir)]
        if others:
            raise _Unsettled(
                conflicted,
                "changed here and upstream in ways git cannot merge",
                "merge by hand (git pull --rebase, settle the conflicts, git rebase "
                "--continue), then run again",
            )
        for path in conflicted:
            _settle(repo, path, resolve)
        run(
            repo,
            "-c",
            "core.editor=true",
            "rebase",
            "--continue",
            what="continue the rebase",
            ok=(0, 1),  # 1: the next commit conflicts too, settled on the next turn
        )


def _unmerged(repo: Repository) -> list[str]:
    _, out = run(
        repo, "diff", "--name-only", "--diff-filter=U", "-z", what="list the conflicted files"
    )
    return sorted(set(fields(out)))


def _is_ledger_file(path: str, ledger_dir: str) -> bool:
    # The ledger reads NAME.json directly in its folder (reconciler.reconcile.ledger.Ledger).
    pure = PurePosixPath(path)
    folder = PurePosixPath(ledger_dir)
    return pure.suffix == ".json" and pure.parent == folder


def _settle(repo: Repository, path: str, resolve: Resolver | None) -> None:
    # During a rebase, stage 2 is the commit being rebased onto (upstream, published) and
    # stage 3 the local commit being replayed (git-rebase(1), "--ours"/"--theirs").
    upstream, local = show(repo, ":2", path), show(repo, ":3", path)
    if upstream is None or local is None:
        raise _Unsettled(
            [path],
            "deleted on one side and changed on the other",
            "keep the right entry by hand (git pull --rebase), then run again",
        )
    theirs, ours = _entry(upstream), _entry(local)
    if theirs is None or ours is None:
        raise _Unsettled(
            [path],
            "not readable as ledger entries on both sides",
            "restore the entry from git (git log -p -- the file), then run again",
        )
    if same_remote_ids(ours, theirs):
        chosen: bytes = upstream
    else:
        kept = resolve(PurePosixPath(path).stem, ours, theirs) if resolve is not None else None
        if kept is None:
            raise _Unsettled(
                [path],
                "record different remote ids here and upstream (both runs may have created "
                "it at Adobe)",
                "check which exists at Adobe, keep that entry (git pull --rebase and settle "
                "the conflict, git rebase --continue), then run again",
            )
        chosen = _bytes_of(kept, (upstream, theirs), (local, ours))
    file = repo.top / path
    file.write_bytes(chosen)
    run(repo, "add", "--", f":(literal){path}", what=f"settle the conflict on {path}")


def _entry(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _bytes_of(kept: Mapping[str, Any], *sides: tuple[bytes, Mapping[str, Any]]) -> bytes:
    """A side's own bytes when the resolver kept it, so the file is exactly as committed;
    else the kept entry as the ledger writes entries (Ledger.put)."""
    for raw, doc in sides:
        if dict(kept) == dict(doc):
            return raw
    return (json.dumps(dict(kept), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _undo(repo: Repository, branch: str, before: str | None, remote: str) -> None:
    """Abort the rebase and check that the branch is back where it was."""
    if unfinished(repo) is not None:
        run(repo, "rebase", "--abort", what="undo the rebase", ok=(0, 1, 128))
    if (
        unfinished(repo) is not None
        or current_branch(repo) != branch
        or (commit_of(repo, "HEAD") != before)
    ):
        raise GitError(
            f"could not update {branch} from {remote}, and undoing the rebase failed: in "
            f"{repo.top} run git rebase --abort, check that {branch} is checked out (git "
            "status), then run again"
        )


def _unsettled_message(remote: str, branch: str, before: str | None, why: _Unsettled) -> str:
    at = (before or "no commit")[:12]
    files = list(_shown(why.paths))
    named = ""
    if files:
        named = files[0] if len(files) == 1 else ", ".join(files[:-1]) + " and " + files[-1]
        named += " "
    fix = f"; {why.fix}" if why.fix else ""
    return (
        f"could not update {branch} from {remote}: {named}{why.why}. The rebase was undone: "
        f"{branch} is back at {at}, nothing was lost{fix}"
    )


def _shown(paths: Sequence[str]) -> Iterator[str]:
    yield from paths[:SHOWN_FILES]
    if len(paths) > SHOWN_FILES:
        yield f"{len(paths) - SHOWN_FILES} more"
