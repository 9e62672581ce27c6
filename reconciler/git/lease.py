"""The apply lease on a remote: one ``apply --push`` at a time across every clone.

The lease is a ref on the remote, :data:`LEASE_REF`, pointing at a commit (of the
empty tree) whose message is a JSON note, its :class:`Holder`: host, pid, the
process's start marker when the OS gives one cheaply, when it was taken (``since``)
and its ``heartbeat``. Every change of the ref, taking, refreshing, taking over
and releasing, is a compare-and-swap push (``--force-with-lease=<ref>:<expected>``),
so of two clones that race for it exactly one wins.

While held, a daemon thread refreshes the heartbeat every ``heartbeat_seconds``.
A lease is taken over at once, with a warning naming the old holder, when its
holder is provably gone (:func:`gone`): a process of this host that no longer runs
(or whose pid now belongs to another process), a heartbeat older than
``stale_seconds``, or, for a note without a heartbeat, one older than
:data:`LEASE_TTL_SECONDS`. Otherwise :class:`LeaseHeldError` says who holds it.

A holder whose refresh finds the ref no longer its own (taken over after its
heartbeat went stale) does not crash: :attr:`Lease.lost` turns true, a warning is
logged, and :meth:`Lease.check` raises :class:`LeaseLostError`, for the caller to
stop submitting anything more. What was already done should still be committed
and pushed, so that the run holding the lease now sees it.

Exceptions: :class:`LeaseHeldError` and :class:`LeaseLostError`, both
:class:`reconciler.errors.GitError`; a remote that cannot be reached is a plain
:class:`~reconciler.errors.GitError`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import git

from reconciler.errors import GitError
from reconciler.git.ledgerbranch import BOT_EMAIL, BOT_NAME, git_identity
from reconciler.git.repo import Repository, detail, failing_as

log = logging.getLogger(__name__)

LEASE_REF = "refs/reconciler/apply-lease"
# Notes written before heartbeats existed are judged by their age alone.
LEASE_TTL_SECONDS = 2 * 3600
HEARTBEAT_SECONDS = 60.0
# Ten missed heartbeats: a holder this quiet is hung, cut off or dead.
STALE_SECONDS = 10 * 60.0
# Taking the lease retries once when the holder released it between our push and our look.
TAKE_ATTEMPTS = 3

Clock = Callable[[], float]


class LeaseHeldError(GitError):
    """Another run, possibly on another machine, holds the lease on the remote."""


class LeaseLostError(GitError):
    """The lease this run held was taken over by another run."""


# -- who holds it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """The note of a lease: which process holds it and since when (times in epoch seconds)."""

    host: str
    pid: int | None
    since: float | None
    heartbeat: float | None = None
    start: str | None = None  # the process's start marker (see process_start)
    # Unique to each taking: two takings with one host, pid and time are still two notes
    # (two commits), or both compare-and-swaps from one old value would succeed.
    token: str | None = None

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"host": self.host, "pid": self.pid, "since": self.since}
        if self.start is not None:
            doc["start"] = self.start
        if self.heartbeat is not None:
            doc["heartbeat"] = self.heartbeat
        if self.token is not None:
            doc["token"] = self.token
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> Holder:
        """A note as read from the remote: whatever is missing or of the wrong type is None."""
        host, pid, start, token = (doc.get(k) for k in ("host", "pid", "start", "token"))
        return cls(
            host=host if isinstance(host, str) else "?",
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            since=_seconds(doc.get("since")),
            heartbeat=_seconds(doc.get("heartbeat")),
            start=start if isinstance(start, str) else None,
            token=token if isinstance(token, str) else None,
        )

    def describe(self) -> str:
        """``host pid 123, since 2026-01-01T00:00:00Z``, for messages."""
        pid = "?" if self.pid is None else str(self.pid)
        since = "" if self.since is None else f", since {_utc(self.since)}"
        return f"{self.host} pid {pid}{since}"


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _utc(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "?"


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux only): state first."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    return raw.rpartition(")")[2].split()


def process_start(pid: int) -> str | None:
    """A marker of when process ``pid`` started, which a later process given the same pid
    cannot share; None where the OS does not tell cheaply (outside Linux).

    On Linux: the boot id and the start time in clock ticks since boot (field 22 of
    ``/proc/<pid>/stat``, see proc(5)).
    """
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        boot = "?"
    return f"{boot}:{fields[19]}"


def running(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` of this host still runs (and is the one that started at
    ``start``, when given and the OS can tell)."""
    if pid <= 0:  # os.kill(0, …) and negative pids would address process groups
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    fields = _proc_stat(pid)
    if fields is not None and fields[:1] == ["Z"]:  # exited, only not yet reaped
        return False
    if start is not None:
        now = process_start(pid)
        if now is not None and now != start:
            return False
    return True


def gone(
    holder: Holder,
    now: float,
    *,
    host: str,
    stale_seconds: float = STALE_SECONDS,
    ttl_seconds: float = LEASE_TTL_SECONDS,
) -> str | None:
    """Why the run that wrote ``holder`` is surely gone (so its lease may be taken over),
    or None while it may still run. ``host`` is this machine's name."""
    if holder.host == host and holder.pid is not None and not running(holder.pid, holder.start):
        return "its process no longer runs on this host"
    if holder.heartbeat is not None:
        quiet = now - holder.heartbeat
        if quiet >= stale_seconds:
            return f"no heartbeat for {int(quiet // 60)} min"
        return None
    if holder.since is not None and now - holder.since >= ttl_seconds:
        return f"taken {int((now - holder.since) // 3600)} h ago, with no heartbeat"
    return None


# -- the ref on the remote ---------------------------------------------------------------------


def _note_commit(repo: Repository, holder: Holder) -> str:
    handle = repo.handle
    with failing_as("write the apply lease's note"):
        empty_tree = handle.git.hash_object("-w", "-t", "tree", "/dev/null")
        with handle.git.custom_environment(**git_identity(BOT_NAME, BOT_EMAIL)):
            return str(handle.git.commit_tree(empty_tree, "-m", json.dumps(holder.to_json())))


def swap(repo: Repository, remote: str, new: str | None, expected: str | None) -> bool:
    """Set the lease ref on ``remote`` to ``new`` (None: delete it) only if it is
    ``expected`` now (None: absent); whether it was set. A remote that refuses for
    another reason also gives False: :func:`lease_sha` tells which."""
    return _push_lease(repo, remote, new, expected) is None


def _push_lease(repo: Repository, remote: str, new: str | None, expected: str | None) -> str | None:
    """Git's words for why the compare-and-swap push was refused; None when it was done."""
    refspec = f"{new}:{LEASE_REF}" if new is not None else f":{LEASE_REF}"
    lease = f"--force-with-lease={LEASE_REF}:{expected or ''}"
    try:
        repo.handle.git.push("-q", remote, lease, refspec)
    except git.GitCommandError as e:
        return detail(e)
    return None


def lease_sha(repo: Repository, remote: str) -> str | None:
    """The commit the lease ref on ``remote`` points at; None when nobody holds it."""
    with failing_as(f"read the apply lease on {remote}", "check the remote's URL and access"):
        line = str(repo.handle.git.ls_remote(remote, LEASE_REF)).strip()
    return line.split()[0] if line else None


def read_holder(repo: Repository, remote: str, sha: str) -> Holder:
    """The note of lease commit ``sha`` (fetched from ``remote``); an unreadable note is a
    holder nothing is known of, which is never taken over before its time is out."""
    try:
        repo.handle.git.fetch("-q", remote, f"+{LEASE_REF}:{LEASE_REF}")
        doc = json.loads(str(repo.handle.commit(sha).message))
    except (git.GitError, ValueError):
        doc = {}
    return Holder.from_json(doc if isinstance(doc, dict) else {})


# -- holding it --------------------------------------------------------------------------------


class Lease:
    """The lease while this run holds it (see :func:`hold_lease`).

    ``takeover`` is the message when it was taken over from a gone run, else None.
    """

    def __init__(
        self,
        repo: Repository,
        remote: str,
        sha: str,
        holder: Holder,
        clock: Clock,
        stale_seconds: float,
        takeover: str | None,
    ) -> None:
        self.remote = remote
        self.takeover = takeover
        self._repo = repo
        self._sha = sha
        self._holder = holder
        self._clock = clock
        self._stale_seconds = stale_seconds
        self._confirmed = holder.heartbeat if holder.heartbeat is not None else clock()
        # Serialises the heartbeat with the release: nothing is pushed once released.
        self._lock = threading.Lock()
        self._released = False
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        """Whether another run took the lease over, or may have (no heartbeat got through
        for ``stale_seconds``)."""
        return self._lost.is_set()

    @property
    def holder(self) -> Holder:
        """The note the remote holds for this lease (its last heartbeat)."""
        return self._holder

    def check(self) -> None:
        """A :class:`LeaseLostError` once the lease is lost: submit nothing more then."""
        if self._lost.is_set():
            raise LeaseLostError(
                f"the apply lease on {self.remote} is no longer this run's: another run took "
                "it over, or could have, since no heartbeat reached the remote in time. Nothing "
                "more is applied; what was done is in the ledger: commit and push it"
            )

    def beat(self) -> bool:
        """Refresh the heartbeat on the remote; False once the lease is no longer held
        (released or lost). A remote out of reach is retried at the next beat, until
        ``stale_seconds`` without one getting through make the lease lost."""
        with self._lock:
            if self._released or self._lost.is_set():
                return False
            now = self._clock()
            note = replace(self._holder, heartbeat=now)
            try:
                sha = _note_commit(self._repo, note)
                if swap(self._repo, self.remote, sha, self._sha):
                    self._sha, self._holder, self._confirmed = sha, note, now
                    return True
                current = lease_sha(self._repo, self.remote)
            except GitError as e:
                if now - self._confirmed < self._stale_seconds:
                    log.warning("could not refresh the apply lease on %s: %s", self.remote, e)
                    return True
                self._lose(f"no heartbeat reached it for {int((now - self._confirmed) // 60)} min")
                return False
            if current == self._sha:  # refused for another reason; still ours
                log.warning("could not refresh the apply lease on %s; trying again", self.remote)
                return True
            self._lose("another run took it over")
            return False

    def _lose(self, why: str) -> None:
        self._lost.set()
        log.warning(
            "lost the apply lease on %s: %s; nothing more will be applied", self.remote, why
        )

    def _beat_until_stopped(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if not self.beat():
                    return
            except Exception:  # a bug: say so, and keep the lease's heartbeat going
                log.exception("the apply lease's heartbeat failed")

    def _start(self, interval: float) -> None:
        self._thread = threading.Thread(
            target=self._beat_until_stopped, args=(interval,), name="apply-lease", daemon=True
        )
        self._thread.start()

    def _release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._released = True
            if not self._lost.is_set():
                # Refused when it was taken over meanwhile: it is theirs now.
                swap(self._repo, self.remote, None, self._sha)


@contextmanager
def hold_lease(
    repo: Repository,
    remote: str,
    *,
    clock: Clock = time.time,
    heartbeat_seconds: float | None = HEARTBEAT_SECONDS,
    stale_seconds: float = STALE_SECONDS,
) -> Iterator[Lease]:
    """Hold the apply lease on ``remote`` for the block, refreshing its heartbeat every
    ``heartbeat_seconds`` (None: only when the caller calls :meth:`Lease.beat`), and
    release it after, once the heartbeat has stopped.

    A :class:`LeaseHeldError` naming the holder when another run holds it and may still
    run; a lease whose holder is gone (:func:`gone`) is taken over, with a warning.
    """
    lease = _take(repo, remote, clock, stale_seconds)
    if lease.takeover is not None:
        log.warning("%s", lease.takeover)
    if heartbeat_seconds is not None:
        lease._start(heartbeat_seconds)
    try:
        yield lease
    finally:
        lease._release()


def _take(repo: Repository, remote: str, clock: Clock, stale_seconds: float) -> Lease:
    host, pid = socket.gethostname(), os.getpid()
    now = clock()
    mine = Holder(
        host, pid, since=now, heartbeat=now, start=process_start(pid), token=secrets.token_hex(8)
    )
    sha = _note_commit(repo, mine)
    refused = ""
    for _ in range(TAKE_ATTEMPTS):
        refusal = _push_lease(repo, remote, sha, None)
        if refusal is None:
            return Lease(repo, remote, sha, mine, clock, stale_seconds, None)
        refused = refusal
        theirs = lease_sha(repo, remote)
        if theirs is None:
            continue  # released between our push and our look: try again
        holder = read_holder(repo, remote, theirs)
        why = gone(holder, clock(), host=host, stale_seconds=stale_seconds)
        if why is None:
            raise LeaseHeldError(_held_message(remote, holder, clock()))
        if not swap(repo, remote, sha, theirs):
            continue  # another run took it over first: the next look names it
        message = f"took over a lease on {remote} left by {holder.describe()}: {why}"
        return Lease(repo, remote, sha, mine, clock, stale_seconds, message)
    raise GitError(f"could not take the apply lease on {remote}: {refused}")


def _held_message(remote: str, holder: Holder, now: float) -> str:
    beat = (
        f", last heartbeat {int((now - holder.heartbeat) // 60)} min ago"
        if holder.heartbeat is not None
        else ""
    )
    return (
        f"another apply holds the lease on {remote} ({holder.describe()}{beat}); it runs now: "
        "wait for it to finish, then run again (nothing was applied). If that run is surely "
        f"gone, remove its lease: git push {remote} :{LEASE_REF}"
    )
