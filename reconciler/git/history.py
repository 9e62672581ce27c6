"""History: the commits that touched paths, the first-parent line, commit order.

Paths come back exactly as they are in the tree (``-z`` output, read as
NUL-separated), whatever characters they hold. Errors:
:class:`reconciler.errors.GitError` (see :mod:`reconciler.git.repo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import GitError
from reconciler.git.repo import DAMAGED, Repository, fields, has_commits, run

# Each commit starts with an empty field (the leading %x00), then these, NUL-separated.
HEADER = "%x00%H%x00%an%x00%ae%x00%aI%x00%s"
HEADER_FIELDS = 5


@dataclass(frozen=True)
class Commit:
    """One commit: who wrote it and when (``date`` in strict ISO 8601, as ``%aI``)."""

    sha: str
    author: str
    email: str
    date: str
    subject: str
    changes: tuple[tuple[str, str], ...] = ()  # (status letter, path from the top)


def _records(
    raw: bytes, header_fields: int, per_change: int
) -> list[tuple[list[str], list[list[str]]]]:
    """Split ``git log -z`` output whose format starts with ``%x00`` and holds
    ``header_fields`` NUL-separated fields, with name lists (``per_change`` fields each:
    2 for --name-status without renames, 1 for --name-only), into commits.

    A path can hold any character but NUL and is never empty, so the empty field that
    starts each commit is where one commit's list of names ends.
    """
    parts = fields(raw)
    records = []
    i = 0
    while i < len(parts):
        if parts[i] != "":
            raise GitError(f"could not read git log's output (at field {i}); please report it")
        header = parts[i + 1 : i + 1 + header_fields]
        i += 1 + header_fields
        changes: list[list[str]] = []
        while i < len(parts) and parts[i] != "":
            group = parts[i : i + per_change]
            if not changes:
                group[0] = group[0].removeprefix("\n")  # git's line between message and names
            changes.append(group)
            i += per_change
        records.append((header, changes))
    return records


def _decoded(field: str) -> str:
    """A name or subject: UTF-8 (git's log encoding), shown even when it is not."""
    return field.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _commit(header: list[str], changes: tuple[tuple[str, str], ...] = ()) -> Commit:
    sha, author, email, date, subject = header
    return Commit(sha, _decoded(author), _decoded(email), date, _decoded(subject), changes)


def anywhere_under(folder: str, names: Sequence[str]) -> list[str]:
    """Pathspecs for a file called one of ``names`` in ``folder`` (from the top) or in
    any folder below it, whatever characters either holds."""
    base = "" if folder == "." else _glob_escaped(folder.rstrip("/")) + "/"
    return [f":(glob){base}**/{_glob_escaped(name)}" for name in names]


def _glob_escaped(text: str) -> str:
    return "".join(f"\\{c}" if c in "\\*?[" else c for c in text)


def log_changes(repo: Repository, pathspecs: Sequence[str]) -> list[Commit]:
    """The commits reachable from HEAD that touch ``pathspecs``, oldest first, each with
    its added (A), modified (M) and deleted (D) paths; none before the first commit."""
    if not has_commits(repo):
        return []
    _, out = run(
        repo,
        "log",
        "-z",
        "--reverse",
        f"--format={HEADER}",
        "--name-status",
        "--no-renames",
        "--end-of-options",
        "HEAD",
        "--",
        *pathspecs,
        what="read the history",
        hint=DAMAGED,
    )
    commits = []
    for header, changes in _records(out, HEADER_FIELDS, 2):
        pairs = tuple((status[:1], path) for status, path in changes)
        commits.append(_commit(header, pairs))
    return commits


def commit_info(repo: Repository, sha: str) -> Commit:
    """Who wrote ``sha`` and when, and its subject."""
    _, out = run(
        repo,
        "log",
        "-1",
        "-z",
        f"--format={HEADER}",
        sha,
        "--",
        what=f"read commit {sha}",
        hint=DAMAGED,
    )
    (header, _), *_ = _records(out, HEADER_FIELDS, 1)
    return _commit(header)


def first_parent_line(repo: Repository, rev: str = "HEAD") -> list[str]:
    """The commits of ``rev``'s first-parent line (the main line merges land on), oldest
    first; empty before the first commit."""
    if not has_commits(repo):
        return []
    _, out = run(
        repo,
        "rev-list",
        "--first-parent",
        "--reverse",
        rev,
        "--",
        what="read the history",
        hint=DAMAGED,
    )
    return out.decode().split()


def topo_order(repo: Repository, rev: str = "HEAD") -> list[str]:
    """Every commit reachable from ``rev``, parents before children; empty before the
    first commit."""
    if not has_commits(repo):
        return []
    _, out = run(
        repo,
        "rev-list",
        "--reverse",
        "--topo-order",
        rev,
        "--",
        what="read the history",
        hint=DAMAGED,
    )
    return out.decode().split()


def is_ancestor(repo: Repository, older: str, newer: str) -> bool:
    """Whether ``older`` is ``newer`` or one of its ancestors."""
    status, _ = run(
        repo,
        "merge-base",
        "--is-ancestor",
        older,
        newer,
        what="compare commits",
        ok=(0, 1),
        hint=DAMAGED,
    )
    return status == 0


def first_containing(repo: Repository, sha: str, line: Sequence[str]) -> str | None:
    """The first commit of ``line`` (oldest first, as :func:`first_parent_line` gives it)
    that contains ``sha``: where it reached the main line, by a merge or directly."""
    if not line or not is_ancestor(repo, sha, line[-1]):
        return None
    lo, hi = 0, len(line) - 1
    while lo < hi:  # containment is monotonic along a first-parent line
        mid = (lo + hi) // 2
        if is_ancestor(repo, sha, line[mid]):
            hi = mid
        else:
            lo = mid + 1
    return line[lo]


def last_commits(repo: Repository, folder: str, changes: str = "") -> dict[str, str]:
    """The commit that last changed each file under ``folder`` (from the top), by path
    from the top: one pass over history instead of one git call per file. ``changes``
    keeps only those kinds of change (git's ``--diff-filter``, e.g. ``AM``)."""
    if not has_commits(repo):
        return {}
    only = [f"--diff-filter={changes}"] if changes else []
    _, out = run(
        repo,
        "log",
        "-z",
        "--format=%x00%H",
        "--name-only",
        "--no-renames",
        *only,
        "--end-of-options",
        "HEAD",
        "--",
        f":(literal){folder}",
        what=f"read the history of {folder}",
        hint=DAMAGED,
    )
    found: dict[str, str] = {}
    for header, names in _records(out, 1, 1):
        for (path,) in names:
            found.setdefault(path, header[0])
    return found


def added_at(repo: Repository, folder: str) -> dict[str, int]:
    """When each file under ``folder`` (from the top) was last added, as the commit's
    Unix time, by path from the top: one pass over history (the order in which requests
    were declared, oldest first)."""
    if not has_commits(repo):
        return {}
    _, out = run(
        repo,
        "log",
        "-z",
        "--format=%x00%ct",
        "--name-only",
        "--no-renames",
        "--diff-filter=A",
        "--end-of-options",
        "HEAD",
        "--",
        f":(literal){folder}",
        what=f"read the history of {folder}",
        hint=DAMAGED,
    )
    found: dict[str, int] = {}
    for header, names in _records(out, 1, 1):
        for (path,) in names:
            found.setdefault(path, int(header[0]))
    return found


def last_versions(repo: Repository, folder: str) -> dict[str, str]:
    """For each file that was ever directly in ``folder`` (from the top), the newest
    commit reachable from HEAD that holds a version of it (added or modified there): the
    ledger entries this clone's history knows, deleted or not, in one pass."""
    prefix = "" if folder == "." else folder.rstrip("/") + "/"
    return {
        path: sha
        for path, sha in last_commits(repo, folder, "AM").items()
        if "/" not in path.removeprefix(prefix)
    }
