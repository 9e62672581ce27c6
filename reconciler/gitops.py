"""Committing the ledger: the git half of ``apply --commit`` and ``status --commit``.

Only files under the ledger folder are committed, whatever else is staged, with
a bot identity (``RECONCILER_GIT_NAME``/``RECONCILER_GIT_EMAIL`` override it)
and a message that lists names and remote ids, never an identity. The subject
ends with ``[skip ci]`` so that CI systems which honour it do not start again
on the ledger commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import git

from reconciler.errors import GitError
from reconciler.settings import Settings

BOT_NAME = "reconciler-bot"
BOT_EMAIL = "reconciler-bot@users.noreply.github.com"
MAX_LISTED = 200


def _repo(settings: Settings) -> git.Repo:
    try:
        return git.Repo(settings.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(
            f"{settings.root} is not inside a git repository; --commit needs one"
        ) from None


def commit_message(subject: str, lines: Sequence[str]) -> str:
    body = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        body.append(f"… and {len(lines) - MAX_LISTED} more")
    return f"{subject} [skip ci]\n\n" + "\n".join(body) + ("\n" if body else "")


def commit_ledger(settings: Settings, message: str, env: Mapping[str, str]) -> str | None:
    """Commit the ledger folder's changes; return the new commit, or None if nothing changed."""
    repo = _repo(settings)
    top = Path(repo.working_dir).resolve()
    ledger = settings.ledger_path.resolve().relative_to(top).as_posix()
    try:
        repo.git.add("--all", "--", ledger)
        if not repo.git.diff("--cached", "--name-only", "--", ledger).strip():
            return None
        name = env.get("RECONCILER_GIT_NAME") or BOT_NAME
        email = env.get("RECONCILER_GIT_EMAIL") or BOT_EMAIL
        identity = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        with repo.git.custom_environment(**identity):
            repo.git.commit("--no-verify", "-q", "-m", message, "--", ledger)
    except git.GitCommandError as e:
        detail = (e.stderr or "").strip().splitlines()
        raise GitError(
            f"could not commit the ledger: {detail[-1] if detail else e.status}; the ledger "
            "files are written, commit them by hand (git add ledger && git commit)"
        ) from None
    return repo.head.commit.hexsha
