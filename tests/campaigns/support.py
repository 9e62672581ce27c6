"""What the campaigns share: declaring many requests, running the CLI, auditing the outcome.

The audit compares three records of the truth: the request files (what was declared), the
ledger (what the tool believes it applied) and the emulator (what exists at "Adobe").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.reconcile.ledger import Ledger
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, git, write

RECORD = "RecordDelete"
JOB = "PrivacyJob"
OPT_OUT = "ConsentOptOut"
TEMPLATES = {RECORD: RECORD_DELETE, JOB: PRIVACY_JOB, OPT_OUT: CONSENT}

# "Apply complete: 3 created, 0 updated, 1 found at Adobe and recorded, 2 failed."
SUMMARY = re.compile(r"Apply complete: (?P<parts>[^\n]*?)(?P<failed>\d+) failed\.")
RECOVERED = re.compile(r"(\d+) found at Adobe and recorded")


def kind_of(i: int) -> str:
    """Three in five requests are record deletes, one a privacy job, one a consent opt-out."""
    return (RECORD, RECORD, RECORD, JOB, OPT_OUT)[i % 5]


def declare(repo: Path, first: int, count: int, prefix: str = "req") -> dict[str, str]:
    """Write and commit ``count`` request files of mixed kinds; returns name -> kind."""
    declared = {}
    for i in range(first, first + count):
        name = f"{prefix}-{i:04d}"
        kind = kind_of(i)
        write(repo, f"requests/{kind.lower()}/{name}.yaml", TEMPLATES[kind].format(name=name))
        declared[name] = kind
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"declare {count} requests")
    return declared


# The grace period the campaigns give a create with an unknown outcome before it is sent
# again (apply.resendAfter): longer than any lag they inject, short enough to wait out.
RESEND_AFTER_S = 3


def configure(repo: Path, resend_after_s: int = RESEND_AFTER_S, **client: float) -> None:
    """Write ``reconciler.yaml``: the client section (camelCase keys as given) and
    apply.resendAfter."""
    lines = "".join(f"  {key}: {value}\n" for key, value in client.items())
    apply = f"apply:\n  resendAfter: {resend_after_s}s\n"
    write(repo, "reconciler.yaml", f"client:\n{lines}{apply}")


def pending_in(output: str) -> bool:
    """Whether an apply's output shows a request pending verification."""
    return "pending-verification" in output or "pending verification" in output


def cli_command(repo: Path, *args: str) -> list[str]:
    """The CLI as a user starts it."""
    return [sys.executable, "-m", "reconciler", "-C", str(repo), *args]


def cli_env() -> dict[str, str]:
    """The test's environment (ADOBE_* and git identity set by the fixtures)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_cli(repo: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(repo, *args), env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def failed_in_summary(output: str) -> int | None:
    """How many actions the apply summary reports failed; None when there is no summary."""
    match = SUMMARY.search(output)
    return None if match is None else int(match.group("failed"))


def recovered_in_summary(output: str) -> int:
    match = RECOVERED.search(output)
    return 0 if match is None else int(match.group(1))


@dataclass
class Audit:
    """Differences between the declared requests, the ledger and the emulator."""

    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    work_orders: int = 0
    privacy_jobs: int = 0
    consent_submissions: int = 0

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.mismatched or self.strays)

    def figures(self) -> dict[str, Any]:
        return {
            "duplicates": len(self.duplicates),
            "lost": len(self.lost),
            "mismatched": len(self.mismatched),
            "work_orders_at_emulator": self.work_orders,
            "privacy_jobs_at_emulator": self.privacy_jobs,
            "consent_submissions": self.consent_submissions,
        }


def remote_by_name(emu: Any) -> tuple[dict[str, list[str]], dict[str, dict[str, set[str]]]]:
    """Work order ids by tagged name, and job ids by name and requestId, from the emulator."""
    from reconciler.reconcile.tagging import split_job_key, untag

    orders: dict[str, list[str]] = defaultdict(list)
    for order in emu.admin.workorders():
        _, name = untag(order.get("description"))
        orders[name or "?untagged"].append(order["workorderId"])
    jobs: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for job in emu.admin.jobs():
        parts = split_job_key(job.get("userKey"))
        jobs[parts[0] if parts else "?untagged"][job["requestId"]].add(job["jobId"])
    return orders, jobs


def audit(emu: Any, repo: Path, declared: Mapping[str, str]) -> Audit:
    """Every declared request applied exactly once, recorded, and recorded right."""
    ledger = Ledger.load(repo / "ledger")
    orders, jobs = remote_by_name(emu)
    result = Audit(
        work_orders=sum(len(v) for v in orders.values()),
        privacy_jobs=sum(len(ids) for groups in jobs.values() for ids in groups.values()),
        consent_submissions=sum(int(c["requests"]) for c in emu.admin.consents()),
    )
    for name, kind in sorted(declared.items()):
        entry = ledger.get(name)
        if entry is None:
            result.lost.append(f"{name}: declared, no ledger entry")
            continue
        if kind == RECORD:
            ids = orders.get(name, [])
            if len(ids) > 1:
                result.duplicates.append(f"{name}: {len(ids)} work orders")
            if entry.remote_id not in ids:
                result.mismatched.append(f"{name}: ledger {entry.remote_id}, emulator {ids}")
        elif kind == JOB:
            groups = jobs.get(name, {})
            if len(groups) > 1:
                result.duplicates.append(f"{name}: {len(groups)} privacy requests")
            recorded = {j.job_id for j in entry.jobs}
            if entry.request_id not in groups or groups[entry.request_id] != recorded:
                result.mismatched.append(f"{name}: ledger jobs differ from the emulator's")
    for name in sorted((set(orders) | set(jobs)) - set(declared)):
        result.strays.append(f"{name}: at the emulator, never declared")
    return result


def ledger_files_are_whole(ledger_dir: Path) -> tuple[int, list[str]]:
    """Read every ``ledger/*.json`` as the next run will (parse, schema, name); never tidy.

    Returns how many temporary files a write left behind, and the problems found.
    """
    problems = []
    reader = Ledger(ledger_dir)
    for path in sorted(ledger_dir.glob("*.json")) if ledger_dir.is_dir() else []:
        try:
            reader.entries_from(path)
        except Exception as e:  # LedgerError, and anything else is a problem too
            problems.append(f"{path.name}: {e}")
    leftovers = list(ledger_dir.glob(".*.tmp")) if ledger_dir.is_dir() else []
    read_as_entries = [name for name in reader.entries if name.startswith(".")]
    problems.extend(f"{name}: a temporary file read as an entry" for name in read_as_entries)
    return len(leftovers), problems


def fault_totals(emu: Any) -> dict[str, int]:
    totals: dict[str, int] = emu.admin.counters()["total"]
    return dict(sorted(totals.items()))


def names_of(declared: Mapping[str, str], kind: str) -> Sequence[str]:
    return [n for n, k in declared.items() if k == kind]
