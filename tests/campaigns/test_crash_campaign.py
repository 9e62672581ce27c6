"""Crash campaign: SIGKILL `reconciler apply` at seeded random moments, many times.

Each round declares a few new requests and starts the CLI as a subprocess against the
emulator (with some latency, so a run takes long enough to be killed mid-way). The run is
killed either after a random delay (anywhere: start-up, planning, applying, or after it
finished) or once a random number of new ledger entries have landed (mid-apply, among the
ledger writes). After every kill the ledger is read as the next run will read it. Then the
CLI runs to completion until an apply finishes cleanly.

Checked: no duplicates at the emulator, no lost or wrong ledger entry, every ledger file
whole, no temporary file read as an entry, the lock never keeps the next run out, and a
run that takes over a killed run's lock says so on stderr.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.reconcile.lock import lock_path
from tests.campaigns.support import (
    RESEND_AFTER_S,
    audit,
    cli_command,
    cli_env,
    configure,
    declare,
    ledger_files_are_whole,
    pending_in,
    run_cli,
)

BATCH = 8  # new requests declared before each killed run
TAKEOVER = "ended without finishing; its lock was released and is taken over"
LOCKED = "another reconciler run holds the lock"
POLL_S = 0.005
RUN_TIMEOUT_S = 120


@dataclass
class Attempt:
    mode: str
    killed: bool
    code: int
    stdout: str
    stderr: str
    note_left: bool  # a whole holder note of the lock was there after the process ended


def ledger_count(ledger: Path) -> int:
    return len(list(ledger.glob("*.json"))) if ledger.is_dir() else 0


def killed_run(repo: Path, rng: random.Random) -> Attempt:
    """Start an apply and SIGKILL it at a moment chosen by ``rng``."""
    ledger = repo / "ledger"
    before = ledger_count(ledger)
    mode = rng.choice(("after-delay", "after-writes"))
    delay = rng.uniform(0.05, 1.2)
    writes = rng.randint(1, BATCH - 1)
    proc = subprocess.Popen(
        cli_command(repo, "apply", "--auto-approve"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + (delay if mode == "after-delay" else RUN_TIMEOUT_S)
        while proc.poll() is None and time.monotonic() < deadline:
            if mode == "after-writes" and ledger_count(ledger) >= before + writes:
                break
            time.sleep(POLL_S)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
        killed = proc.returncode == -signal.SIGKILL  # not if it exited just before
    finally:
        if proc.poll() is None:  # only if something above failed
            proc.kill()
            proc.wait(timeout=10)
    return Attempt(mode, killed, proc.returncode, stdout, stderr, holder_note_left(repo))


def holder_note_left(repo: Path) -> bool:
    """Whether a whole holder note is there (a kill may land while it is being written)."""
    try:
        note = json.loads(lock_path(repo).with_suffix(".holder").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(note, dict) and isinstance(note.get("pid"), int)


def check_after(previous: Attempt | None, attempt: Attempt) -> bool:
    """What must hold for any run, killed or not; returns whether it printed a takeover."""
    assert LOCKED not in attempt.stderr, attempt.stderr  # the next run always gets the lock
    assert "Traceback" not in attempt.stderr, attempt.stderr
    if not attempt.killed:
        assert attempt.code == 0, attempt.stdout + attempt.stderr
    took_over = TAKEOVER in attempt.stderr
    # The note is printed right after the lock is taken, before the plan is: a run that got
    # as far as printing anything on stdout after a killed holder's note must have said so.
    if previous is not None and previous.note_left and attempt.stdout.strip():
        assert took_over, (previous, attempt.stderr)
    return took_over


def crash_campaign(adobe, repo: Path, kills: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    rng = random.Random(seed)
    adobe.admin.set_faults({"latency_ms": 15, "seed": seed})
    configure(repo, maxConcurrency=4, requestsPerSecond=1000)
    declared = declare(repo, 0, BATCH)
    attempts: list[Attempt] = []
    leftovers = 0
    takeovers = 0
    previous: Attempt | None = None
    # A run may finish before its moment comes: go on until ``kills`` runs were killed.
    for round_ in range(3 * kills):
        if sum(a.killed for a in attempts) == kills:
            break
        declared |= declare(repo, BATCH * (round_ + 1), BATCH)
        attempt = killed_run(repo, rng)
        takeovers += check_after(previous, attempt)
        left, problems = ledger_files_are_whole(repo / "ledger")
        assert problems == [], problems
        leftovers += left
        attempts.append(attempt)
        previous = attempt

    finishing: list[subprocess.CompletedProcess[str]] = []
    pending_reports = 0
    for _ in range(8):
        done = run_cli(repo, "apply", "--auto-approve", timeout=RUN_TIMEOUT_S)
        finishing.append(done)
        takeovers += check_after(
            previous, Attempt("to the end", False, done.returncode, done.stdout, done.stderr, False)
        )
        previous = None
        assert done.returncode == 0, done.stdout + done.stderr
        if "No changes" in done.stdout:
            break
        if pending_in(done.stdout):  # a killed run's create: sent again after the grace
            pending_reports += 1
            time.sleep(RESEND_AFTER_S)
    else:
        pytest.fail("apply did not settle after the kills")
    adobe.admin.set_faults({})

    assert sum(a.killed for a in attempts) == kills
    assert takeovers >= 1, "no run ever reported taking over a killed run's lock"
    assert list((repo / "ledger").glob(".*.tmp")) == []  # the next load tidied them
    found = audit(adobe, repo, declared)
    assert found.clean, found
    return {
        "requests": len(declared),
        "kills": sum(a.killed for a in attempts),
        "runs_finished_before_the_kill": sum(not a.killed for a in attempts),
        "kill_modes": {
            m: sum(a.mode == m for a in attempts) for m in ("after-delay", "after-writes")
        },
        "killed_holding_the_lock": sum(a.killed and a.note_left for a in attempts),
        "takeover_notes": takeovers,
        "temp_files_left_by_kills": leftovers,
        "runs_to_finish": len(finishing),
        "pending_verification_reports": pending_reports,
        "seconds": round(time.monotonic() - started, 1),
        **found.figures(),
    }


def test_crash_campaign_short(adobe, repo: Path, figures) -> None:
    figures("crash (short)", crash_campaign(adobe, repo, kills=5, seed=5))


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_crash_campaign_long(adobe, repo: Path, figures) -> None:
    figures("crash (long)", crash_campaign(adobe, repo, kills=40, seed=41))
