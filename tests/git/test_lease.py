"""The apply lease against a real bare remote shared by two clones: taking, refusing,
taking over from gone holders, the heartbeat, and losing the lease to another run."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.git.lease import (
    LEASE_REF,
    Holder,
    LeaseHeldError,
    LeaseLostError,
    gone,
    hold_lease,
    swap,
)
from reconciler.git.repo import open_repo
from tests.conftest import git

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HOST = socket.gethostname()


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """Two clones of one bare remote with one commit on main."""
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / "README.md").write_text("requests\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-qm", "Start")
    git(seed, "push", "-q", str(remote), "main")
    made = []
    for name in ("a", "b"):
        subprocess.run(["git", "clone", "-q", str(remote), str(tmp_path / name)], check=True)
        made.append(tmp_path / name)
    return made[0], made[1]


def plant(clone: Path, note: dict[str, object]) -> str:
    """Put a lease note on the remote by hand, as a run elsewhere would have; its commit."""
    tree = git(clone, "hash-object", "-w", "-t", "tree", "/dev/null").strip()
    sha = git(clone, "commit-tree", tree, "-m", json.dumps(note)).strip()
    git(clone, "push", "-q", "--force", "origin", f"{sha}:{LEASE_REF}")
    return sha


def remote_sha(clone: Path) -> str | None:
    line = git(clone, "ls-remote", "origin", LEASE_REF).strip()
    return line.split()[0] if line else None


def remote_note(clone: Path) -> dict[str, object] | None:
    """The note the remote's lease ref holds now, read with plain git."""
    sha = remote_sha(clone)
    if sha is None:
        return None
    git(clone, "fetch", "-q", "origin", f"+{LEASE_REF}:refs/test/lease")
    doc: dict[str, object] = json.loads(git(clone, "log", "-1", "--format=%B", sha))
    return doc


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this host that is not this one."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def dead_pid() -> int:
    """The pid of a process of this host that ran and is gone (reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_free_lease_is_taken_noted_and_released(clones) -> None:
    a, _ = clones
    with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None) as lease:
        assert lease.takeover is None
        note = remote_note(a)
        assert note is not None
        assert (note["host"], note["pid"], note["since"], note["heartbeat"]) == (
            HOST,
            os.getpid(),
            NOW,
            NOW,
        )
    assert remote_sha(a) is None


def test_a_dead_holder_of_this_host_is_taken_over_at_once(clones, caplog) -> None:
    a, b = clones
    pid = dead_pid()
    # Its heartbeat is fresh: only the process being gone lets the lease go.
    plant(b, {"host": HOST, "pid": pid, "since": NOW - 30, "heartbeat": NOW - 5})
    with caplog.at_level(logging.WARNING, logger="reconciler.git.lease"):
        with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None) as lease:
            assert remote_note(a)["pid"] == os.getpid()
    expected = (
        f"took over a lease on origin left by {HOST} pid {pid}, since 2027-01-15T07:59:30Z: "
        "its process no longer runs on this host"
    )
    assert lease.takeover == expected
    assert expected in caplog.text


def test_a_live_holder_of_this_host_is_refused_with_who_and_since(clones, sleeper) -> None:
    a, b = clones
    planted = plant(b, {"host": HOST, "pid": sleeper.pid, "since": NOW - 600, "heartbeat": NOW})
    with pytest.raises(LeaseHeldError) as e:
        with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None):
            pytest.fail("the lease was taken from a live holder")
    message = str(e.value)
    assert message.startswith(
        f"another apply holds the lease on origin ({HOST} pid {sleeper.pid}, "
        "since 2027-01-15T07:50:00Z, last heartbeat 0 min ago)"
    )
    assert f"git push origin :{LEASE_REF}" in message
    assert remote_sha(a) == planted


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="start markers need /proc")
def test_a_pid_now_used_by_another_process_is_taken_over(clones, sleeper) -> None:
    a, b = clones
    note = {"host": HOST, "pid": sleeper.pid, "start": "another-boot:12", "since": NOW}
    plant(b, note | {"heartbeat": NOW})
    with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None) as lease:
        assert lease.takeover is not None
        assert lease.takeover.endswith(": its process no longer runs on this host")


@pytest.mark.parametrize(
    ("note", "why"),
    [
        pytest.param(
            {"since": NOW - 3600, "heartbeat": NOW - 11 * 60},
            "no heartbeat for 11 min",
            id="stale-heartbeat",
        ),
        pytest.param(
            {"since": NOW - 3 * 3600},
            "taken 3 h ago, with no heartbeat",
            id="legacy-note-past-its-time",
        ),
    ],
)
def test_a_quiet_holder_elsewhere_is_taken_over(clones, note, why) -> None:
    a, b = clones
    plant(b, {"host": "ci-runner-7", "pid": 4242} | note)
    with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None) as lease:
        assert lease.takeover is not None and lease.takeover.endswith(f": {why}")
        assert "ci-runner-7 pid 4242" in lease.takeover
        assert remote_note(a)["host"] == HOST


@pytest.mark.parametrize(
    "note",
    [
        pytest.param({"since": NOW - 3600, "heartbeat": NOW - 9 * 60}, id="recent-heartbeat"),
        pytest.param({"since": NOW - 3600}, id="legacy-note-in-its-time"),
        pytest.param({}, id="unreadable-note"),
    ],
)
def test_a_holder_elsewhere_that_may_run_is_refused(clones, note) -> None:
    a, b = clones
    planted = plant(b, {"host": "ci-runner-7", "pid": 4242} | note)
    with pytest.raises(LeaseHeldError, match="another apply holds the lease on origin"):
        with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None):
            pytest.fail("the lease was taken from a holder that may run")
    assert remote_sha(a) == planted


def test_a_heartbeat_moves_the_time_on_the_remote(clones) -> None:
    a, _ = clones
    times = iter([NOW, NOW + 60, NOW + 120])
    with hold_lease(
        open_repo(a), "origin", clock=lambda: next(times), heartbeat_seconds=None
    ) as lease:
        assert lease.beat() is True
        assert remote_note(a)["heartbeat"] == NOW + 60
        assert lease.beat() is True
        note = remote_note(a)
        assert (note["since"], note["heartbeat"]) == (NOW, NOW + 120)
        assert lease.lost is False
        lease.check()


def test_a_lease_taken_over_meanwhile_is_noticed_and_left_alone(clones, caplog) -> None:
    a, b = clones
    times = iter([NOW, NOW + 60])
    with caplog.at_level(logging.WARNING, logger="reconciler.git.lease"):
        with hold_lease(
            open_repo(a), "origin", clock=lambda: next(times), heartbeat_seconds=None
        ) as lease:
            theirs = plant(b, {"host": "ci-runner-7", "pid": 4242, "since": NOW})
            assert lease.beat() is False
            assert lease.lost is True
            with pytest.raises(LeaseLostError, match="no longer this run's: another run took"):
                lease.check()
    assert "lost the apply lease on origin: another run took it over" in caplog.text
    # Releasing does not remove the lease of the run that holds it now.
    assert remote_sha(a) == theirs


def test_a_remote_out_of_reach_for_too_long_loses_the_lease(clones, caplog) -> None:
    a, _ = clones
    times = iter([NOW, NOW + 60, NOW + 11 * 60])
    origin = a.parent / "origin.git"
    with caplog.at_level(logging.WARNING, logger="reconciler.git.lease"):
        with hold_lease(
            open_repo(a), "origin", clock=lambda: next(times), heartbeat_seconds=None
        ) as lease:
            origin.rename(origin.with_name("away.git"))
            assert lease.beat() is True  # a minute without a heartbeat: still ours
            assert lease.lost is False
            assert "could not refresh the apply lease on origin" in caplog.text
            assert lease.beat() is False  # past the stale limit: others may have taken it
            assert lease.lost is True
            origin.with_name("away.git").rename(origin)
    assert "lost the apply lease on origin: no heartbeat reached it for 11 min" in caplog.text
    # Once lost, nothing is pushed: not even the release.
    note = remote_note(a)
    assert note is not None and note["heartbeat"] == NOW


def test_nothing_is_pushed_once_released(clones) -> None:
    a, _ = clones
    with hold_lease(open_repo(a), "origin", clock=lambda: NOW, heartbeat_seconds=None) as lease:
        pass
    assert lease.beat() is False
    assert remote_sha(a) is None


def test_the_heartbeat_thread_refreshes_and_stops_before_release(clones) -> None:
    a, _ = clones
    seen: list[dict[str, object] | None] = []
    second_beat = threading.Event()
    calls = 0

    def clock() -> float:
        # Called once to take the lease, then once per beat, in the heartbeat thread.
        nonlocal calls
        calls += 1
        if calls == 3:  # the first beat is done: its time is on the remote
            seen.append(remote_note(a))
            second_beat.set()
        return NOW + calls

    with hold_lease(open_repo(a), "origin", clock=clock, heartbeat_seconds=0.001):
        assert second_beat.wait(timeout=30)
    assert seen and seen[0] is not None and seen[0]["heartbeat"] == NOW + 2
    assert [t for t in threading.enumerate() if t.name == "apply-lease"] == []
    assert remote_sha(a) is None


def test_two_takeovers_from_one_stale_lease_cannot_both_win(clones) -> None:
    a, b = clones
    stale = plant(b, {"host": "ci-runner-7", "pid": 4242, "since": NOW - 3 * 3600})
    repos = [open_repo(a), open_repo(b)]
    tree = git(a, "hash-object", "-w", "-t", "tree", "/dev/null").strip()
    notes = [json.dumps({"host": c.name}) for c in (a, b)]
    mine = [
        git(c, "commit-tree", tree, "-m", n).strip() for c, n in zip((a, b), notes, strict=True)
    ]
    # Both read the stale lease before either pushed: each swaps from the value it read.
    won = [swap(repo, "origin", sha, stale) for repo, sha in zip(repos, mine, strict=True)]
    assert won == [True, False]
    assert remote_sha(a) == mine[0]


def test_two_runs_taking_over_at_once_one_wins_one_is_refused(clones) -> None:
    a, b = clones
    plant(b, {"host": "ci-runner-7", "pid": 4242, "since": NOW - 3 * 3600})
    both_tried = threading.Barrier(2, timeout=60)
    results: dict[str, str] = {}

    def take(clone: Path) -> None:
        try:
            with hold_lease(open_repo(clone), "origin", clock=lambda: NOW, heartbeat_seconds=None):
                results[clone.name] = "won"
                both_tried.wait()  # hold it until the other has tried
        except LeaseHeldError as e:
            results[clone.name] = str(e)
            both_tried.wait()

    threads = [threading.Thread(target=take, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == ["a", "b"]
    outcomes = sorted(results.values())
    assert outcomes[1] == "won"
    assert outcomes[0].startswith(f"another apply holds the lease on origin ({HOST} pid")
    assert remote_sha(a) is None


@pytest.mark.parametrize("pid", [0, -1], ids=["zero", "negative"])
def test_pids_that_name_process_groups_are_never_judged_gone(pid) -> None:
    holder = Holder(HOST, pid, since=NOW, heartbeat=NOW)
    assert gone(holder, NOW, host=HOST) is None
