"""One run that writes the ledger at a time per repository: ``apply``, ``status``,
``import`` and ``push`` each hold the lock while they run.

The lock is an OS file lock (``filelock``: ``flock`` on POSIX), which the
kernel releases when its holder dies, so a killed run never leaves a lock
that blocks forever. Beside it, a small note says who holds it; a note left
by a dead process is reported when the next run takes over.

Where: in the git directory every work tree of the repository shares (the
main work tree's ``.git``, also for a linked work tree made by ``git worktree
add``), so it is never in a work tree's files, and runs in two work trees of one
repository (which share the ledger branch's work tree) exclude each other.
Outside git, in the system's temporary folder.
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
from reconciler.git.repo import common_git_dir
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


def lock_path(root: Path) -> Path:
    """Inside the common git directory when there is one (never committed, never in a work
    tree); outside git, in the system's temporary folder under a name derived from the
    repository's path, so that nothing is left in the folder the command ran in."""
    git_dir = common_git_dir(root)
    if git_dir is not None:
        return git_dir / "reconciler-apply.lock"
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"reconciler-apply-{digest}.lock"


@contextmanager
def repository_lock(root: Path, timeout: float = 0, command: str = "apply") -> Iterator[str | None]:
    """Hold the lock for ``command``; yields a message when a dead holder's note was taken
    over. While another run holds it, a :class:`LockedError` that names that run."""
    path = lock_path(root)
    note = path.with_suffix(".holder")
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        holder = ""
        try:
            info = json.loads(note.read_text())
            what = f"reconciler {info['command']}, " if isinstance(info.get("command"), str) else ""
            holder = f" ({what}pid {info['pid']}, since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        raise LockedError(
            f"another reconciler run holds the lock on this repository{holder}; "
            f"wait for it to finish and run {command} again (nothing was written)"
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
        note.write_text(json.dumps({"pid": os.getpid(), "since": utc_now(), "command": command}))
        try:
            yield message
        finally:
            note.unlink(missing_ok=True)
    finally:
        lock.release()
