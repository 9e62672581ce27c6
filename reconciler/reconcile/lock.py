"""One apply at a time per repository.

The lock is an OS file lock (``filelock``: ``flock`` on POSIX), which the
kernel releases when its holder dies, so a killed run never leaves a lock
that blocks forever. Beside it, a small note says who holds it; a note left
by a dead process is reported when the next run takes over.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from reconciler.errors import ReconcilerError
from reconciler.reconcile.ledger import utc_now


class LockedError(ReconcilerError):
    """Another run holds the repository's lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _git_dir(root: Path) -> Path | None:
    """The git directory of the work tree ``root`` is in (``.git``, or the directory a
    ``.git`` file of a linked work tree names), if any."""
    for folder in (root, *root.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                named = Path(text.removeprefix("gitdir:").strip())
                return named if named.is_absolute() else (folder / named).resolve()
    return None


def lock_path(root: Path) -> Path:
    """Inside the git directory when there is one (never committed); outside git, in the
    system's temporary folder under a name derived from the repository's path, so that
    nothing is left in the folder the command ran in."""
    git_dir = _git_dir(root.resolve())
    if git_dir is not None:
        return git_dir / "reconciler-apply.lock"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"reconciler-apply-{digest}.lock"


@contextmanager
def repository_lock(root: Path, timeout: float = 0) -> Iterator[str | None]:
    """Hold the lock; yields a message when a dead holder's note was taken over."""
    path = lock_path(root)
    note = path.with_suffix(".holder")
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        holder = ""
        try:
            info = json.loads(note.read_text())
            holder = f" (pid {info['pid']}, since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        raise LockedError(
            f"another reconciler run holds the lock on this repository{holder}; "
            "wait for it to finish and run again"
        ) from None
    message = None
    try:
        try:
            previous = json.loads(note.read_text())
            if isinstance(previous, dict) and not _alive(int(previous.get("pid", 0))):
                message = (
                    f"a previous run (pid {previous.get('pid')}, since {previous.get('since')}) "
                    "ended without finishing; its lock was released and is taken over"
                )
        except (OSError, ValueError, TypeError):
            pass
        note.write_text(json.dumps({"pid": os.getpid(), "since": utc_now()}))
        try:
            yield message
        finally:
            note.unlink(missing_ok=True)
    finally:
        lock.release()
