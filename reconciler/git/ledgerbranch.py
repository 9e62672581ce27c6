"""The ledger on a branch of its own, so that a protected main never needs a push.

With ``ledger.branch`` set in ``reconciler.yaml``, the ledger folder lives on that
branch and nowhere in the requests' work tree. Every command that reads or
writes the ledger first calls :func:`attach`, which checks the branch out in a
work tree of its own inside the git directory
(``<git-common-dir>/reconciler/ledger``, never part of any commit) and points
the settings there; from then on the ledger is read, written and committed as
in the in-tree mode, only in that work tree.

Which commit of the branch: the local branch, fast-forwarded to the
remote-tracking one (``origin/<branch>``) when that is ahead, so a fresh clone
or a CI checkout (which has only ``origin/<branch>``) reads what the apply job
pushed, and a clone with unpushed ledger commits keeps them. A repository with
no ledger branch anywhere starts one: an empty root commit, pushed by the first
``reconciler push`` or ``apply --push``.

Errors: :class:`reconciler.errors.GitError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path, PurePosixPath

import git

from reconciler.errors import GitError
from reconciler.git import history
from reconciler.git.repo import (
    Repository,
    failing_as,
    find_repo,
    open_repo,
    open_work_tree,
    relative,
    show,
)
from reconciler.reconcile.ledger import Ledger
from reconciler.settings import Settings

WORKTREE = Path("reconciler") / "ledger"
BOT_NAME = "reconciler-bot"
BOT_EMAIL = "reconciler-bot@users.noreply.github.com"
START_DATE = "2026-01-01T00:00:00+0000"


def git_identity(name: str, email: str, date: str | None = None) -> dict[str, str]:
    """Git's environment for a commit authored and committed as ``name <email>``."""
    identity = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    if date is not None:
        identity |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return identity


def _ref_sha(repo: git.Repo, ref: str) -> str | None:
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")).strip()
    except git.GitCommandError:
        return None


def _is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    try:
        repo.git.merge_base("--is-ancestor", older, newer)
    except git.GitCommandError:
        return False
    return True


def worktree_path(repo: Repository) -> Path:
    """Where the ledger branch is checked out: inside the git directory all work trees
    share, so never part of any commit."""
    return Path(str(repo.handle.common_dir)).resolve() / WORKTREE


def _start_branch(repo: git.Repo, branch: str) -> None:
    """Create ``branch`` as an empty root commit (git 2.39 has no ``worktree add --orphan``).

    The commit is the same in every clone (fixed author, date and message), so clones
    that each started the branch before any of them pushed share its history: their
    ledger commits rebase onto each other's instead of being unrelated.
    """
    identity = git_identity(BOT_NAME, BOT_EMAIL, START_DATE)
    empty_tree = repo.git.hash_object("-w", "-t", "tree", "/dev/null")
    with repo.git.custom_environment(**identity):
        sha = repo.git.commit_tree(
            empty_tree, "-m", "reconciler: start the ledger branch [skip ci]"
        ).strip()
    repo.git.branch(branch, sha)


def attach(settings: Settings, remote: str = "origin", *, required: bool = True) -> Settings:
    """Settings whose ledger folder is the ledger branch's, checked out and up to date.

    In-tree settings (no ``ledger.branch``) come back unchanged, and so do settings
    outside any git repository when not ``required``.
    """
    branch = settings.ledger_branch
    if branch is None or settings.ledger_root is not None:
        return settings
    if not required and find_repo(settings.root) is None:
        return settings
    opened = open_repo(
        settings.root, f"the ledger branch {branch!r} (reconciler.yaml ledger.branch)"
    )
    with failing_as(f"check out the ledger branch {branch!r}"):
        return _attach(settings, opened, branch, remote)


def _attach(settings: Settings, opened: Repository, branch: str, remote: str) -> Settings:
    repo = opened.handle
    if not repo.head.is_detached and repo.head.reference.name == branch:
        raise GitError(
            f"ledger.branch is {branch!r}, the branch checked out here: the ledger needs a "
            "branch of its own (e.g. reconciler-ledger); change reconciler.yaml"
        )
    tree = worktree_path(opened)
    local, tracking = f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"
    if _ref_sha(repo, local) is None:
        if _ref_sha(repo, tracking) is not None:
            repo.git.branch("--no-track", branch, tracking)
        else:
            _start_branch(repo, branch)
    if not (tree / ".git").is_file():
        repo.git.worktree("prune")
        tree.parent.mkdir(parents=True, exist_ok=True)
        repo.git.worktree("add", "--quiet", str(tree), branch)
    checked_out = open_work_tree(tree).handle
    if checked_out.head.is_detached or checked_out.head.reference.name != branch:
        raise GitError(
            f"{tree} does not have {branch!r} checked out; remove it (git worktree "
            "remove --force) and run again"
        )
    head, ahead = _ref_sha(checked_out, "HEAD"), _ref_sha(repo, tracking)
    if ahead and head != ahead and head and _is_ancestor(repo, head, ahead):
        checked_out.git.merge("--ff-only", "--quiet", ahead)
    return replace(settings, ledger_root=tree)


def ledger_repo(settings: Settings) -> Repository:
    """The repository whose work tree holds the ledger folder (after :func:`attach`)."""
    if settings.ledger_root is not None:
        return open_work_tree(settings.ledger_root)
    return open_repo(settings.root, "the ledger")


def remote_has_branch(repo: git.Repo, remote: str, branch: str) -> bool:
    with failing_as(f"reach {remote}", "check the remote's URL and your access to it"):
        return bool(str(repo.git.ls_remote("--heads", remote, branch)).strip())


def load_ledger(settings: Settings) -> Ledger:
    """The ledger of attached settings (see :func:`attach`), paths shown from its tree."""
    return Ledger.load(settings.ledger_path, settings.ledger_root or settings.root)


def ledger_history(settings: Settings, names: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """The newest committed version of ``ledger/NAME.json`` for each of ``names`` whose
    entry git's history holds (as the commit and the file's bytes): what a lost ledger
    entry was, whatever Adobe still lists. Empty outside git."""
    wanted = set(names)
    if not wanted:
        return {}
    if settings.ledger_root is not None:
        repo: Repository | None = open_work_tree(settings.ledger_root)
    else:
        repo = find_repo(settings.root)
    if repo is None:
        return {}
    folder = relative(repo, settings.ledger_path)
    found = {}
    for path, sha in history.last_versions(repo, folder).items():
        name = PurePosixPath(path).stem
        if name in wanted and path.endswith(".json"):
            data = show(repo, sha, path)
            if data is not None:
                found[name] = (sha, data)
    return found
