"""A git repository, found from any folder in it, and read at a revision.

The rest of the project holds a :class:`Repository` and calls the functions
here and in :mod:`reconciler.git.history`; it never sees gitpython.

Every git command runs with ``core.quotepath=false``, and every one whose
output holds paths runs with ``-z`` and is read as NUL-separated, so a folder
named ``équipe données`` or ``a "b"`` comes back as it is on disk, never
C-quoted (``"\\303\\251quipe…"``) or cut at a space.

Exception tree: everything gitpython or git raises comes out of this package
as one of ours, with a message that says what failed and what to do::

    reconciler.errors.GitError      a git operation failed (bad revision, not a
    │                               repository, git missing, a damaged repository)
    └── reconciler.git.publish.LeaseHeldError
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from reconciler.errors import GitError

# Paths git prints anyway (in its messages) come out as they are, not C-quoted.
OPTIONS = ("-c", "core.quotepath=false")
DAMAGED = "the repository may be damaged: check it with git fsck"


@dataclass(frozen=True, eq=False)
class Repository:
    """A git work tree: its top folder and, for this package only, gitpython's handle."""

    handle: git.Repo

    @property
    def top(self) -> Path:
        """The top folder of the work tree, resolved."""
        return Path(str(self.handle.working_dir)).resolve()


def detail(e: BaseException) -> str:
    """What went wrong, in git's own words: the last line of its message."""
    if isinstance(e, git.GitCommandNotFound):
        return "git is not installed or not on PATH: install git"
    if isinstance(e, git.GitCommandError):
        return _last_line(str(e.stderr or ""), f"git exited {e.status}")
    if isinstance(e, git.InvalidGitRepositoryError | git.NoSuchPathError):
        return "not a git repository"
    if isinstance(e, BadName | BadObject):
        return f"missing object ({DAMAGED})"
    return e.__class__.__name__


def _last_line(stderr: str, fallback: str) -> str:
    text = stderr.strip()
    if text.startswith("stderr: '") and text.endswith("'"):  # gitpython's frame around it
        text = text.removeprefix("stderr: '").removesuffix("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else fallback


@contextmanager
def failing_as(what: str, hint: str = "") -> Iterator[None]:
    """Turn gitpython's exceptions inside the block into a :class:`GitError`:
    ``could not <what>: <git's message>; <hint>``."""
    try:
        yield
    except (git.GitError, BadName, BadObject) as e:
        tail = f"; {hint}" if hint else ""
        raise GitError(f"could not {what}: {detail(e)}{tail}") from None


def run(
    repo: Repository, *args: str, what: str, ok: Sequence[int] = (0,), hint: str = ""
) -> tuple[int, bytes]:
    """Run ``git <args>`` at the top of ``repo``; its exit status and raw output.

    A status outside ``ok`` is a :class:`GitError`: ``could not <what>: <git's
    message>; <hint>``.
    """
    with failing_as(what):
        status, out, err = repo.handle.git.execute(
            ["git", *OPTIONS, *args],
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
    if status not in ok:
        message = _last_line(str(err), f"git exited {status}")
        raise GitError(f"could not {what}: {message}" + (f"; {hint}" if hint else ""))
    return status, bytes(out)


def text(raw: bytes) -> str:
    """A path from git's output, decoded as the OS decodes file names."""
    return os.fsdecode(raw)


def fields(raw: bytes) -> list[str]:
    """NUL-separated output (``-z``) as its fields, the empty one after the last NUL dropped."""
    parts = [text(part) for part in raw.split(b"\0")]
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def find_repo(start: Path) -> Repository | None:
    """The repository whose work tree ``start`` is in; None outside git."""
    try:
        handle = git.Repo(start, search_parent_directories=True)
    except git.NoSuchPathError:
        return None
    except git.InvalidGitRepositoryError:
        for folder in (start.resolve(), *start.resolve().parents):
            if (folder / ".git").exists():
                raise GitError(
                    f"{folder / '.git'} is there but git cannot read it as a repository; "
                    f"{DAMAGED} (or remove it if it is left over)"
                ) from None
        return None
    if handle.bare:
        return None
    return _wrapped(handle)


def open_work_tree(path: Path) -> Repository:
    """The work tree whose top is ``path`` exactly (a linked one, say), without looking up."""
    with failing_as(f"open the git work tree {path}", "remove it (git worktree remove --force)"):
        return _wrapped(git.Repo(path))


def _wrapped(handle: git.Repo) -> Repository:
    # For the commands this package runs through gitpython's own methods.
    handle.git.set_persistent_git_options(c="core.quotepath=false")
    return Repository(handle)


def open_repo(start: Path, needed_by: str = "") -> Repository:
    """The repository whose work tree ``start`` is in; a :class:`GitError` outside git."""
    found = find_repo(start)
    if found is None:
        why = f"; {needed_by} needs one" if needed_by else ""
        raise GitError(f"{start} is not inside a git repository{why} (git init, or run in a clone)")
    return found


def common_git_dir(start: Path) -> Path | None:
    """The git directory shared by every work tree of ``start``'s repository (``.git`` of
    the main work tree, also for a linked one); None outside git."""
    found = find_repo(start)
    if found is None:
        return None
    return Path(str(found.handle.common_dir)).resolve()


def relative(repo: Repository, path: Path) -> str:
    """``path`` from the top of the work tree, with slashes (``.`` for the top itself)."""
    try:
        return path.resolve().relative_to(repo.top).as_posix()
    except ValueError:
        raise GitError(
            f"{path} is outside the git work tree {repo.top}; keep the requests and ledger "
            "folders inside it (paths in reconciler.yaml)"
        ) from None


def _resolve(repo: Repository, rev: str) -> str | None:
    status, out = run(
        repo,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        rev,
        what=f"read the revision {rev!r}",
        ok=(0, 1),
    )
    return out.decode().strip() if status == 0 else None


def commit_of(repo: Repository, rev: str) -> str | None:
    """The commit ``rev`` names, or None when it names none (an unborn HEAD, a typo)."""
    return _resolve(repo, f"{rev}^{{commit}}")


def has_commits(repo: Repository) -> bool:
    """Whether HEAD points at a commit: False in a repository just made by ``git init``.

    A HEAD whose commit is missing from a damaged repository still counts, so that what
    reads it next says the repository is damaged instead of calling it empty.
    """
    return _resolve(repo, "HEAD") is not None


def require_commit(repo: Repository, rev: str) -> str:
    """The commit ``rev`` names; a :class:`GitError` that says to fetch it when unknown."""
    sha = commit_of(repo, rev)
    if sha is not None:
        return sha
    if _resolve(repo, rev) is not None:
        raise GitError(
            f"git revision {rev!r} names no commit git can read: name a commit, or, if it "
            f"is one, {DAMAGED}"
        )
    raise GitError(f"unknown git revision {rev!r}; fetch it first (git fetch origin)")


def current_branch(repo: Repository) -> str | None:
    """The branch checked out, or None when HEAD is detached."""
    status, out = run(
        repo, "symbolic-ref", "--quiet", "--short", "HEAD", what="read HEAD", ok=(0, 1)
    )
    if status != 0:
        return None
    return text(out).strip() or None


def upstream_of(repo: Repository, branch: str, remote: str) -> str | None:
    """The remote-tracking branch ``branch`` is compared with, as a full ref: its upstream
    when one is configured, else ``refs/remotes/<remote>/<branch>``; None when that was
    never fetched (a repository without a remote, a branch never pushed)."""
    _, out = run(
        repo,
        "for-each-ref",
        "--format=%(upstream)",
        "--end-of-options",
        f"refs/heads/{branch}",
        what=f"read the upstream of {branch}",
    )
    for ref in (text(out).strip(), f"refs/remotes/{remote}/{branch}"):
        if ref and commit_of(repo, ref) is not None:
            return ref
    return None


def missing_from_head(repo: Repository, rev: str) -> int:
    """How many commits ``rev`` has that HEAD has not (all of them before the first commit)."""
    span = f"HEAD..{rev}" if has_commits(repo) else rev
    _, out = run(repo, "rev-list", "--count", span, "--", what=f"compare HEAD with {rev}")
    return int(out.decode().strip() or 0)


def changes(repo: Repository, paths: Sequence[str]) -> list[tuple[str, str]]:
    """Each file under ``paths`` (from the top) whose work tree or index differs from HEAD,
    untracked and ignored ones included, as (path from the top, how): ``modified`` (in the
    work tree), ``staged`` (in the index only), ``deleted``, ``untracked``, ``ignored`` or
    ``unmerged``; in git's order."""
    spec = [f":(literal){path}" for path in paths]
    _, out = run(
        repo,
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        "--ignored=traditional",
        "--ignore-submodules=all",
        "--",
        *spec,
        what="read which files are not committed (git status)",
    )
    found = []
    for entry in fields(out):
        xy, path = entry[:2], entry[3:]
        if xy == "??":
            how = "untracked"
        elif xy == "!!":
            how = "ignored"
        elif "U" in xy or xy in ("AA", "DD"):
            how = "unmerged"
        elif "D" in xy:
            how = "deleted"
        elif xy[1] != " ":
            how = "modified"
        else:
            how = "staged"
        found.append((path, how))
    return found


def show(repo: Repository, rev: str, path: str) -> bytes | None:
    """The content of ``path`` (from the top) at ``rev``; None when it is not there."""
    status, out = run(
        repo, "cat-file", "blob", f"{rev}:{path}", what=f"read {path} at {rev}", ok=(0, 128)
    )
    return out if status == 0 else None


def files_at(repo: Repository, rev: str, folder: str) -> list[tuple[str, str]]:
    """Each file under ``folder`` (from the top; ``.`` for all) at ``rev``, as (path, blob
    id), in git's order (``ls-tree -r -z``)."""
    spec = [] if folder == "." else ["--", folder]
    what = f"list {folder} at {rev}"
    _, out = run(repo, "ls-tree", "-r", "-z", "--full-tree", rev, *spec, what=what, hint=DAMAGED)
    found = []
    prefix = "" if folder == "." else folder.rstrip("/") + "/"
    for entry in fields(out):
        meta, _, path = entry.partition("\t")
        _, kind, sha = meta.split(" ")
        if kind == "blob" and path.startswith(prefix):
            found.append((path, sha))
    return found


def blobs_at(repo: Repository, rev: str, folder: str) -> Iterator[tuple[str, bytes]]:
    """Each file under ``folder`` at ``rev`` with its content, read through one
    ``cat-file --batch`` process instead of one git call per file."""
    for path, sha in files_at(repo, rev, folder):
        with failing_as(f"read {path} at {rev}", DAMAGED):
            try:
                data: bytes = repo.handle.odb.stream(bytes.fromhex(sha)).read()
            except ValueError:  # gitpython's word for an object cat-file says is missing
                raise GitError(f"could not read {path} at {rev}: {DAMAGED}") from None
        yield path, data
