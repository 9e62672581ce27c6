"""Two `reconciler apply` processes started at once on the same repository.

The repository lock lets exactly one proceed; the other exits 1 at once, saying another run
holds the lock, before it reads anything or calls Adobe. The winner applies everything
exactly once; the loser, run again, finds nothing to do. The emulator's latency keeps the
winner busy (holding the lock) for seconds, far longer than the two processes' start-up
skew, so the race always overlaps.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.support import (
    audit,
    cli_command,
    cli_env,
    configure,
    declare,
    failed_in_summary,
    run_cli,
)

LOCKED = "another reconciler run holds the lock"
BATCH = 20
RUN_TIMEOUT_S = 120


def race(repo: Path) -> list[tuple[int, str, str]]:
    """Start two applies at once; returns (exit code, stdout, stderr) of each."""
    procs = [
        subprocess.Popen(
            cli_command(repo, "apply", "--auto-approve"),
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        return [(p.wait(timeout=RUN_TIMEOUT_S), *p.communicate(timeout=10)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:  # only if waiting above failed
                p.kill()
                p.wait(timeout=10)


def race_campaign(adobe, repo: Path, rounds: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    adobe.admin.set_faults({"latency_ms": 100, "seed": seed})
    configure(repo, maxConcurrency=2, requestsPerSecond=1000)
    declared: dict[str, str] = {}
    for round_ in range(rounds):
        declared |= declare(repo, BATCH * round_, BATCH)
        results = sorted(race(repo))
        (win_code, win_out, win_err), (lose_code, lose_out, lose_err) = results
        assert (win_code, lose_code) == (0, 1), results
        assert failed_in_summary(win_out) == 0, win_out + win_err
        assert f"{BATCH} created" in win_out, win_out
        assert LOCKED in lose_err, lose_err
        assert lose_out == "" and "Traceback" not in lose_err  # stopped before planning
        found = audit(adobe, repo, declared)
        assert found.clean, found  # the winner recorded everything, once
        again = run_cli(repo, "apply", "--auto-approve", timeout=RUN_TIMEOUT_S)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "No changes" in again.stdout
    adobe.admin.set_faults({})
    found = audit(adobe, repo, declared)
    assert found.clean, found
    return {
        "rounds": rounds,
        "requests": len(declared),
        "losers_refused": rounds,
        "seconds": round(time.monotonic() - started, 1),
        **found.figures(),
    }


def test_lock_race_short(adobe, repo: Path, figures) -> None:
    figures("lock race (short)", race_campaign(adobe, repo, rounds=1, seed=3))


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_lock_race_long(adobe, repo: Path, figures) -> None:
    figures("lock race (long)", race_campaign(adobe, repo, rounds=10, seed=17))
