"""Committing and pushing the ledger: the git half of ``apply``, ``status`` and ``push``.

Only files under the ledger folder are committed, whatever else is staged, with
a bot identity (``RECONCILER_GIT_NAME``/``RECONCILER_GIT_EMAIL`` override it)
and a message that lists names and remote ids, never an identity. The subject
ends with ``[skip ci]`` so that CI systems which honour it do not start again
on the ledger commit.

Both ledger modes go through here: in-tree, the ledger is committed on the
checked-out branch and pushed to it; with ``ledger.branch``, it is committed in
the ledger branch's own work tree (:mod:`reconciler.git.ledgerbranch`) and pushed
to that branch only, so main is never pushed to.

Apply runs only on reviewed state (:func:`unreviewed` says why a work tree is
not): the apply branch (``apply.branch``, main by default) checked out, its
request files and ``reconciler.yaml`` committed, and the clone not behind the
branch's remote-tracking branch. The ledger is pushed only where it belongs
(:func:`push_target`): its own branch, or the apply branch, never a feature branch.

Two clones share one remote through the apply lease (:mod:`reconciler.git.lease`,
taken by :func:`take_lease`) and through :func:`pull`, which rebases the ledger's
branch onto the remote's and settles conflicts between two entries of one request
(:mod:`reconciler.git.rebase`), or undoes the rebase: the branch is never left
mid-rebase.

A push token, when given (``LEDGER_PUSH_TOKEN``), reaches git through a
credential helper set in git's environment (``GIT_CONFIG_*``) that reads it
from the environment: it is never written to a file, put on a command line or
printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import git

from reconciler.errors import GitError
from reconciler.git.lease import (
    HEARTBEAT_SECONDS,
    LEASE_REF,
    LEASE_TTL_SECONDS,
    STALE_SECONDS,
    Clock,
    Lease,
    LeaseHeldError,
    LeaseLostError,
    hold_lease,
)
from reconciler.git.ledgerbranch import (
    BOT_EMAIL,
    BOT_NAME,
    git_identity,
    ledger_repo,
    remote_has_branch,
)
from reconciler.git.rebase import Resolver, check_not_mid_operation, pull_rebase, unfinished
from reconciler.git.repo import (
    Repository,
    changes,
    commit_of,
    current_branch,
    detail,
    find_repo,
    missing_from_head,
    open_repo,
    relative,
    run,
    upstream_of,
)
from reconciler.repository import SETTINGS_FILE
from reconciler.settings import Settings

MAX_LISTED = 200
TOKEN_VARIABLE = "LEDGER_PUSH_TOKEN"
SHOWN_FILES = 3
# The files the loader reads as requests (reconciler.check.validation.YAML_SUFFIXES).
REQUEST_SUFFIXES = (".yaml", ".yml")

# Importable from here as before the lease and the rebase had modules of their own.
__all__ = [
    "LEASE_REF",
    "LEASE_TTL_SECONDS",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "Resolver",
    "Unreviewed",
    "check_not_mid_operation",
    "commit_ledger",
    "commit_message",
    "credentials",
    "describe_push",
    "pull",
    "push",
    "push_target",
    "remote_lease",
    "take_lease",
    "unreviewed",
]


# -- reviewed state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unreviewed:
    """One reason the work tree is not the reviewed state that apply runs from."""

    what: str  # what is wrong, e.g. "requests/a.yaml (untracked) is not committed"
    fix: str  # what to do, e.g. "commit it through a pull request"


def unreviewed(settings: Settings, remote: str) -> tuple[Unreviewed, ...]:
    """Why the work tree is not reviewed state; empty when it is.

    Reviewed state is what pull requests merged: the apply branch checked out, every
    request file and ``reconciler.yaml`` as committed there (an ignored request file
    counts too: the loader reads it all the same), and nothing on the branch's
    remote-tracking branch (when fetched) missing here. A work tree outside git has no
    review at all. Mid-rebase (or merge), on another branch or on a detached HEAD that is
    the only reason given, since the rest is about the apply branch.
    """
    wanted = settings.apply_branch
    found = find_repo(settings.root)
    if found is None:
        return (
            Unreviewed(
                f"{settings.root} is not in a git repository, so nothing in it was reviewed",
                f"apply on {wanted} in a clone of the repository that pull requests merge into",
            ),
        )
    left = unfinished(found)
    if left is not None:
        what, undo = left
        return (
            Unreviewed(
                f"{found.top} is in the middle of {what}, left unfinished by an earlier run or "
                "by hand",
                f"undo it (git -C {found.top} {undo.removeprefix('git ')}) or finish it",
            ),
        )
    branch = current_branch(found)
    if branch is None:
        at = (commit_of(found, "HEAD") or "no commit")[:12]
        return (
            Unreviewed(
                f"HEAD is detached (at {at}), not on {wanted}, the branch pull requests merge "
                "into (reconciler.yaml apply.branch)",
                f"check out {wanted} (git checkout {wanted})",
            ),
        )
    if branch != wanted:
        return (
            Unreviewed(
                f"the branch checked out is {branch}, not {wanted}, the branch pull requests "
                "merge into (reconciler.yaml apply.branch)",
                f"merge {branch} through a pull request and apply on {wanted}",
            ),
        )
    found_problems = [_uncommitted(found, settings)]
    tracking = upstream_of(found, branch, remote)
    if tracking is not None:
        behind = missing_from_head(found, tracking)
        if behind:
            name = tracking.removeprefix("refs/remotes/").removeprefix("refs/heads/")
            found_problems.append(
                Unreviewed(
                    f"{branch} is {behind} commit(s) behind {name}: this clone is stale and "
                    "would apply older requests",
                    "pull first (git pull)",
                )
            )
    return tuple(p for p in found_problems if p is not None)


def _uncommitted(repo: Repository, settings: Settings) -> Unreviewed | None:
    requests = relative(repo, settings.requests_path)
    config = relative(repo, settings.root / SETTINGS_FILE)
    prefix = "" if requests == "." else requests + "/"
    changed = [
        (path, how)
        for path, how in changes(repo, [requests, config])
        if path == config or (path.startswith(prefix) and path.endswith(REQUEST_SUFFIXES))
    ]
    if not changed:
        return None
    root = settings.root.resolve()
    named = [
        f"{(repo.top / path).relative_to(root).as_posix()} ({how})"
        for path, how in changed[:SHOWN_FILES]
    ]
    if len(changed) > SHOWN_FILES:
        named.append(f"{len(changed) - SHOWN_FILES} more")
    shown = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    one = len(changed) == 1
    return Unreviewed(
        f"{shown} {'is' if one else 'are'} not committed",
        f"commit {'it' if one else 'them'} through a pull request",
    )


def push_target(settings: Settings) -> str:
    """The branch the ledger is pushed to: the ledger branch, or else the apply branch,
    which must then be the one checked out (so a ledger never lands on a feature branch);
    a :class:`GitError` otherwise, before anything is pushed or applied."""
    if settings.ledger_branch is not None:
        return settings.ledger_branch
    wanted = settings.apply_branch
    opened = open_repo(settings.root, "pushing the ledger")
    if unfinished(opened) is not None:
        check_not_mid_operation(opened)  # says which operation, and how to undo it
    branch = current_branch(opened)
    if branch != wanted:
        here = "HEAD is detached" if branch is None else f"the branch checked out is {branch}"
        raise GitError(
            f"the ledger is pushed only to {wanted} (reconciler.yaml apply.branch), and {here}: "
            f"check out {wanted} to push, or commit without pushing. Nothing was pushed"
        )
    return wanted


def commit_message(subject: str, lines: Sequence[str]) -> str:
    body = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        body.append(f"… and {len(lines) - MAX_LISTED} more")
    return f"{subject} [skip ci]\n\n" + "\n".join(body) + ("\n" if body else "")


@dataclass(frozen=True)
class LedgerFiles:
    """What a ledger commit holds: entries and intents added, changed and removed."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    intents: int = 0

    @property
    def total(self) -> int:
        return self.added + self.changed + self.removed + self.intents

    @classmethod
    def of(cls, name_status: bytes) -> LedgerFiles:
        fields = [f for f in name_status.split(b"\0") if f]
        counts = {"A": 0, "M": 0, "D": 0}
        intents = 0
        for status, path in zip(fields[::2], fields[1::2], strict=False):
            if b"/intents/" in b"/" + path:
                intents += 1
            else:
                key = status.decode()[:1]
                counts[key if key in counts else "M"] += 1
        return cls(counts["A"], counts["M"], counts["D"], intents)

    def __str__(self) -> str:
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.added, "entr" + ("y" if self.added == 1 else "ies") + " added"),
                (self.changed, "changed"),
                (self.removed, "removed"),
                (self.intents, "intent file(s)"),
            )
            if n
        ]
        return f"Ledger files in this commit: {', '.join(parts)}."


def commit_ledger(settings: Settings, message: str, env: Mapping[str, str]) -> str | None:
    """Commit the ledger folder's changes; return the new commit, or None if nothing changed."""
    opened = ledger_repo(settings)
    ledger = f":(literal){relative(opened, settings.ledger_path)}"
    what = "commit the ledger"
    hint = "the ledger files are written, commit them by hand (git add ledger && git commit)"
    try:
        run(opened, "add", "--all", "--", ledger, what=what)
        _, listed = run(
            opened,
            "diff",
            "--cached",
            "--name-status",
            "-z",
            "--no-renames",
            "--",
            ledger,
            what=what,
        )
        staged = LedgerFiles.of(listed)
        if not staged.total:
            return None
        # Say what the commit holds, whatever the subject counts (a killed run's entries).
        head, _, rest = message.partition("\n\n")
        message = f"{head}\n\n" + (f"{rest.rstrip()}\n\n" if rest.strip() else "") + f"{staged}\n"
        name = env.get("RECONCILER_GIT_NAME") or BOT_NAME
        email = env.get("RECONCILER_GIT_EMAIL") or BOT_EMAIL
        with opened.handle.git.custom_environment(**git_identity(name, email)):
            run(opened, "commit", "--no-verify", "-q", "-m", message, "--", ledger, what=what)
    except GitError as e:
        raise GitError(f"{e}; {hint}") from None
    return commit_of(opened, "HEAD")


# -- sharing one remote ---------------------------------------------------------------------

PUSH_ATTEMPTS = 3


@contextmanager
def take_lease(
    settings: Settings,
    remote: str,
    env: Mapping[str, str] | None = None,
    *,
    clock: Clock = time.time,
    heartbeat_seconds: float | None = HEARTBEAT_SECONDS,
    stale_seconds: float = STALE_SECONDS,
) -> Iterator[Lease]:
    """Hold the apply lease on ``remote`` for the block (see :mod:`reconciler.git.lease`).

    Two runs in two clones of one repository cannot both hold it, so they never apply
    at the same time. A :class:`LeaseHeldError` names the holder while it may still run;
    a gone holder's lease is taken over (``Lease.takeover`` says so). Call
    ``Lease.check()`` before each submission: it raises :class:`LeaseLostError` once
    another run took the lease over.
    """
    repo = open_repo(settings.root, "--push")
    with repo.handle.git.custom_environment(**credentials(env or {})):
        with hold_lease(
            repo,
            remote,
            clock=clock,
            heartbeat_seconds=heartbeat_seconds,
            stale_seconds=stale_seconds,
        ) as lease:
            yield lease


@contextmanager
def remote_lease(
    settings: Settings, remote: str, env: Mapping[str, str] | None = None
) -> Iterator[str | None]:
    """:func:`take_lease`, yielding only its takeover message (None when none was needed)."""
    with take_lease(settings, remote, env) as lease:
        yield lease.takeover


def credentials(env: Mapping[str, str]) -> dict[str, str]:
    """Git's environment for a push with the token in ``LEDGER_PUSH_TOKEN``, if any.

    The first, empty helper clears any helper configured elsewhere; the second prints
    the token from its own environment when git asks for it.
    """
    if not env.get(TOKEN_VARIABLE):
        return {}
    return {
        TOKEN_VARIABLE: env[TOKEN_VARIABLE],
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": (
            '!f() { test "$1" = get || exit 0; echo username=x-access-token; '
            f'echo "password=${{{TOKEN_VARIABLE}}}"; }}; f'
        ),
    }


def describe_push(settings: Settings, remote: str, outcome: str) -> str:
    """One line for the outcome of :func:`push`, naming where the ledger went."""
    where = f"{remote}/{settings.ledger_branch or settings.apply_branch}"
    if outcome == "unchanged":
        return f"Ledger unchanged: {where} has every ledger commit already"
    moved = " (it had moved: the ledger commits were rebased onto it)"
    return f"Ledger pushed to {where}" + (moved if outcome == "rebased" else "")


def pull(
    settings: Settings,
    remote: str,
    env: Mapping[str, str] | None = None,
    resolve: Resolver | None = None,
) -> None:
    """Bring the ledger's branch up to date with ``remote`` (ledger commits of other runs).

    In-tree, that is the checked-out branch; with ``ledger.branch``, the ledger branch
    (a remote that has none yet has nothing to bring). Local commits are rebased onto
    the remote's; a conflict on a ledger entry is settled when both sides record the
    same remote ids, else by ``resolve`` (see :data:`reconciler.git.rebase.Resolver`:
    ``ours`` is this clone's entry, ``theirs`` the remote's). Any other conflict undoes
    the rebase and raises a :class:`GitError` naming the files: the branch is never
    left mid-rebase. A repository left mid-rebase or detached is refused with the fix.
    """
    opened = ledger_repo(settings)
    branch = check_not_mid_operation(opened)
    ledger_dir = relative(opened, settings.ledger_path)
    given = env or {}
    with opened.handle.git.custom_environment(**credentials(given), **_committer(opened, given)):
        if settings.ledger_root is not None and not remote_has_branch(
            opened.handle, remote, branch
        ):
            return
        pull_rebase(opened, remote, branch, ledger_dir, resolve)


def _committer(repo: Repository, env: Mapping[str, str]) -> dict[str, str]:
    """The bot as the committer of the commits a rebase replays when git knows no committer
    (a CI checkout sets no user.email); their authors stay as they were."""
    status, _ = run(repo, "var", "GIT_COMMITTER_IDENT", what="read the committer", ok=(0, 128))
    if status == 0:
        return {}
    return {
        "GIT_COMMITTER_NAME": env.get("RECONCILER_GIT_NAME") or BOT_NAME,
        "GIT_COMMITTER_EMAIL": env.get("RECONCILER_GIT_EMAIL") or BOT_EMAIL,
    }


def push(
    settings: Settings,
    remote: str,
    env: Mapping[str, str] | None = None,
    resolve: Resolver | None = None,
) -> str:
    """Push the ledger's branch; when the remote moved, rebase on it (:func:`pull`, with
    ``resolve``) and try again.

    Returns ``"pushed"``, ``"rebased"`` (pushed after the remote moved) or
    ``"unchanged"`` (the remote has every ledger commit). Ledger files are one per
    request, so a rebase over other commits conflicts only where two runs recorded the
    same request. Refused, before anything is pushed, on a branch the ledger does not
    belong on (:func:`push_target`) or in a repository left mid-rebase.
    """
    push_target(settings)
    opened = ledger_repo(settings)
    branch = check_not_mid_operation(opened)
    repo = opened.handle
    auth = credentials(env or {})
    for attempt in range(PUSH_ATTEMPTS):
        try:
            with repo.git.custom_environment(**auth):
                out = repo.git.push("--porcelain", remote, f"HEAD:refs/heads/{branch}")
            if "[up to date]" in str(out):
                return "unchanged"
            return "rebased" if attempt else "pushed"
        except git.GitCommandError as e:
            if attempt == PUSH_ATTEMPTS - 1:
                raise GitError(
                    f"could not push the ledger to {remote}/{branch}: {detail(e)}; the "
                    "ledger is committed locally: run reconciler push again"
                ) from None
            pull(settings, remote, env, resolve)
    raise AssertionError("unreachable")  # pragma: no cover
