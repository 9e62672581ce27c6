"""Benchmark: `reconciler apply` of 1,000 new privacy-job requests, batching off and on.

Run it on demand (it is not part of the test suite)::

    .venv/bin/python bench/batch_bench.py                      # 1,000 requests (~2 min)
    .venv/bin/python bench/batch_bench.py --requests 200 --emulator thread   # quicker

A throwaway git repository holds N new ``PrivacyJob`` requests of one regulation and
product set, one user each. In one run, against the emulator with ``latency_ms`` of
injected latency on every API call (20 by default), the CLI applies it as a user does:

(a) ``apply.batchPrivacyJobs: false``, one ``POST /jobs`` per request: the baseline;
(b) emulator reset, a fresh copy, batching on (the default);
(c) the same, with every create's answer dropped after the emulator stored its jobs
    (``drop_after_commit_rate: 1``): what recovering a lost answer costs per request.

Each line gives the wall time, the HTTP calls (from the emulator's request log, as
``apply_bench.py`` counts them), calls per request, and the ratio to (a) of both.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_bench import (  # noqa: E402  (a sibling script, not a package)
    Emulator,
    Measure,
    emulator,
    git,
    print_breakdown,
    reconciler,
)

PRIVACY_JOB = """\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: {name}
spec:
  regulation: gdpr
  include: [analytics, profileService]
  users:
    - key: user-{i}
      action: [access, delete]
      userIDs:
        - {{namespace: email, value: user.{i}@example.com, type: standard}}
        - {{namespace: ECID, value: "{i:038d}", type: standard}}
"""


def make_repo(root: Path, n: int) -> None:
    """A committed repository of ``n`` new privacy-job requests."""
    for i in range(1, n + 1):  # from 1: an ECID of zeros is a placeholder, refused
        name = f"pj-{i:05d}"
        path = root / "requests" / f"{i % 100:02d}" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PRIVACY_JOB.format(name=name, i=i), encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"declare {n} privacy-job requests")


def set_settings(repo: Path, concurrency: int, batch: bool) -> None:
    """Commit the settings: apply runs only on committed settings and requests."""
    text = (
        f"client:\n  maxConcurrency: {concurrency}\n  requestsPerSecond: 1000\n"
        f"apply:\n  batchPrivacyJobs: {'true' if batch else 'false'}\n"
    )
    (repo / "reconciler.yaml").write_text(text, encoding="utf-8")
    git(repo, "add", "reconciler.yaml")
    git(repo, "commit", "-q", "--allow-empty", "-m", f"batchPrivacyJobs {batch}")


def measured_apply(
    emu: Emulator,
    pristine: Path,
    work: Path,
    *,
    label: str,
    batch: bool,
    concurrency: int,
    faults: dict[str, object],
) -> tuple[Measure, str]:
    """Reset the emulator, copy the pristine repository, apply it; the measure and the
    summary line apply printed."""
    emu.admin.reset()
    emu.admin.set_faults(faults)
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(pristine, work, symlinks=True)
    set_settings(work, concurrency, batch)
    mark = emu.mark()
    timing, output = reconciler(emu, work, "apply", "--auto-approve")
    tail = output.strip().splitlines()[-1]
    if "0 failed" not in tail:
        raise RuntimeError(f"apply did not apply everything: {tail}")
    calls, by_route = emu.calls_since(mark)
    ledger = len(list((work / "ledger").glob("*.json")))
    if ledger != sum(1 for _ in (pristine / "requests").rglob("*.yaml")):
        raise RuntimeError(f"{label}: {ledger} ledger entries, expected one per request")
    return Measure(label, timing, calls, by_route), tail.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1_000, help="new requests to apply")
    parser.add_argument("--concurrency", type=int, default=4, help="client maxConcurrency")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency per API call")
    parser.add_argument("--emulator", choices=("subprocess", "thread"), default="subprocess")
    args = parser.parse_args()
    n = args.requests
    latency = {"latency_ms": args.latency_ms}

    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp, emulator(args.emulator) as emu:
        root = Path(tmp)
        pristine = root / "pristine"
        make_repo(pristine, n)
        print(
            f"emulator: {emu.mode}; CLI: subprocess; {args.latency_ms:g} ms latency on every "
            f"API call; maxConcurrency {args.concurrency}"
        )
        print(f"apply {n:,} new PrivacyJob requests (gdpr: analytics, profileService; 1 user each)")
        runs = []
        for label, batch, faults in (
            ("(a) batching off", False, latency),
            ("(b) batching on", True, latency),
            ("(c) on, answer lost", True, {**latency, "write": {"drop_after_commit_rate": 1.0}}),
        ):
            measure, tail = measured_apply(
                emu,
                pristine,
                root / "work",
                label=label,
                batch=batch,
                concurrency=args.concurrency,
                faults=faults,
            )
            runs.append((measure, tail))
        base = runs[0][0]
        for m, tail in runs:
            print(
                f"  {m.label:<20} {m.timing}  {base.timing.wall / m.timing.wall:6.2f}x faster  "
                f"{m.calls:,} HTTP calls ({m.calls / n:.3f} per request, "
                f"{base.calls / m.calls:6.1f}x fewer)  [{tail}]"
            )
        for m, _ in runs:
            print(f"  calls of {m.label}, by method and route:")
            print_breakdown(m.by_route, n)


if __name__ == "__main__":
    main()
