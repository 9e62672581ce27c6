"""Gateway campaign: a gateway that lags, lies and loses answers, two clones that push, kills.

Two clones of one bare remote take turns, and sometimes race, running
`reconciler apply --auto-approve --push` as a user's CI would, against one emulator whose
gateway misbehaves in every way it knows at once: listings that lag behind creates
(shorter than the grace period, ``apply.resendAfter``), creates that commit and then
answer 429, 401 or 5xx, answers cut off after the commit, answers naming another
object's id, totals that lie, short pages, 5xx and 429 before anything is done. Some runs
are SIGKILLed at a random moment (the lease and the intents they leave behind must not
stop or fool the next run); now and then a clone loses its ledger files from its work
tree. New requests of all three kinds are declared in one clone and pushed between runs.

At the end the faults stop and both clones apply until nothing is left. Checked: every
declared request exists exactly once at the emulator (one work order, one set of jobs),
is in both clones' ledgers with the emulator's ids, no run printed a traceback, and every
failing run said why in one line. Figures: requests, faults by mode, kills, duplicates,
lost, pending-verification reports, consent sends per request.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.support import (
    OPT_OUT,
    RESEND_AFTER_S,
    audit,
    cli_command,
    cli_env,
    configure,
    declare,
    fault_totals,
    names_of,
    pending_in,
    run_cli,
)
from tests.conftest import git

BATCH = 6
RUN_TIMEOUT_S = 180
LAG_S = 1.5  # the listings' lag: well inside the campaign's grace period
INDEX_LAG_S = 2.5  # the search's lag: longer, and still inside it
SETTLE_RUNS = 12
# What a run that stops on purpose says (one line on stderr, exit 1): the other clone's
# lease, a listing that contradicted itself twice or repeated a page (short pages mixed
# with full ones), a push that lost a race.
EXPECTED_STOPS = (
    "holds the lease",
    "contradicts itself",
    "repeats earlier results",
    "outcome unknown",
    "rejected",
    "failed",
)


def fault_plan(seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "latency_ms": 5,
        "error_rate": 0.03,
        "throttle_rate": 0.03,
        "retry_after": 0,
        "write": {
            "drop_after_commit_rate": 0.05,
            "commit_then_error_rate": 0.08,
            "reused_id_rate": 0.04,
        },
        # The search index lags longer than the listing without search (still inside
        # the grace period: a lost ledger has only the searched listing to go by).
        "read": {
            "search_lag_s": LAG_S,
            "search_index_lag_s": INDEX_LAG_S,
            "lying_total_rate": 0.03,
            "short_page_rate": 0.1,
        },
    }


@dataclass
class Tally:
    runs: int = 0
    kills: int = 0
    raced: int = 0
    ledger_losses: int = 0
    pending_reports: int = 0
    stops: Counter[str] = field(default_factory=Counter)
    exits: Counter[int] = field(default_factory=Counter)


def clone(origin: Path, path: Path) -> Path:
    git(path.parent, "clone", "-q", str(origin), str(path))
    return path


def start(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(repo, "apply", "--auto-approve", "--push"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], tally: Tally, kill_after: float | None) -> str:
    """Wait for ``proc`` (SIGKILL it after ``kill_after`` seconds if given); check what a
    run that was not killed must show; return its output."""
    try:
        if kill_after is not None:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    tally.runs += 1
    output = stdout + stderr
    if proc.returncode == -signal.SIGKILL:
        tally.kills += 1
        return output
    assert "Traceback" not in output, output
    tally.exits[proc.returncode] += 1
    assert proc.returncode in (0, 1), output
    if proc.returncode == 1:
        reason = next((s for s in EXPECTED_STOPS if s in stderr), None)
        assert reason is not None, output
        tally.stops[reason] += 1
    if pending_in(stdout):
        tally.pending_reports += 1
    return output


def gateway_campaign(adobe, origin: Path, tmp_path: Path, rounds: int, seed: int) -> dict:
    started = time.monotonic()
    rng = random.Random(seed)
    first = clone(origin, tmp_path / "first")
    second = clone(origin, tmp_path / "second")
    configure(first, maxConcurrency=4, requestsPerSecond=1000, timeoutSeconds=2, maxRetries=6)
    declared = declare(first, 0, BATCH)
    git(first, "push", "-q", "origin", "main")
    tally = Tally()
    clones = (first, second)
    for round_ in range(rounds):
        adobe.admin.set_faults(fault_plan(seed * 1000 + round_))
        if round_ % 2 == 1:
            git(first, "reset", "-q", "--hard")  # what a killed run left uncommitted
            git(first, "pull", "-q", "--rebase", "origin", "main")
            declared |= declare(first, BATCH * (round_ + 1), BATCH)
            git(first, "push", "-q", "origin", "main")
        for repo in clones:
            git(repo, "reset", "-q", "--hard")  # a ledger lost last round is back from git
            git(repo, "pull", "-q", "--rebase", "origin", "main")
        if rng.random() < 0.15:  # a clone's ledger files vanish from its work tree
            victim = rng.choice(clones)
            shutil.rmtree(victim / "ledger", ignore_errors=True)
            tally.ledger_losses += 1
        if rng.random() < 0.25:  # both clones at once: the lease lets one through
            tally.raced += 1
            procs = [start(repo) for repo in clones]
            for proc in procs:
                finish(proc, tally, None)
            continue
        repo = rng.choice(clones)
        kill_after = rng.uniform(0.3, 3.0) if rng.random() < 0.3 else None
        finish(start(repo), tally, kill_after)

    adobe.admin.set_faults({})
    settled = False
    for _ in range(SETTLE_RUNS):
        outputs = []
        for repo in clones:
            git(repo, "reset", "-q", "--hard")  # a lost ledger file comes back from git
            done = run_cli(repo, "apply", "--auto-approve", "--push", timeout=RUN_TIMEOUT_S)
            assert done.returncode == 0, done.stdout + done.stderr
            outputs.append(done.stdout)
        if all("No changes" in out for out in outputs):
            settled = True
            break
        if any(pending_in(out) for out in outputs):
            tally.pending_reports += 1
            time.sleep(RESEND_AFTER_S)
    assert settled, "apply did not settle after the faults stopped"

    faults = fault_totals(adobe)
    for repo in clones:
        git(repo, "pull", "-q", "--rebase", "origin", "main")
        found = audit(adobe, repo, declared)
        assert found.clean, (repo.name, found)
    opt_outs = len(names_of(declared, OPT_OUT))
    return {
        "requests": len(declared),
        "rounds": rounds,
        "runs": tally.runs,
        "kills": tally.kills,
        "races_of_both_clones": tally.raced,
        "ledger_losses": tally.ledger_losses,
        "pending_verification_reports": tally.pending_reports,
        "stops_with_a_reason": dict(tally.stops),
        "exits": {str(k): v for k, v in sorted(tally.exits.items())},
        "faults": faults,
        "consent_sends_per_opt_out": round(found.consent_submissions / opt_outs, 2)
        if opt_outs
        else None,
        "seconds": round(time.monotonic() - started, 1),
        **found.figures(),
    }


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    """A bare remote whose main holds an empty requests repository."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    return bare


def test_gateway_campaign_short(adobe, origin: Path, tmp_path: Path, figures) -> None:
    figures("gateway (short)", gateway_campaign(adobe, origin, tmp_path, rounds=4, seed=7))


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_gateway_campaign_long(adobe, origin: Path, tmp_path: Path, figures) -> None:
    figures("gateway (long)", gateway_campaign(adobe, origin, tmp_path, rounds=60, seed=53))
