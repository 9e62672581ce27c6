"""Benchmark: `reconciler apply` of 1,000 new requests against the emulator with 20 ms latency.

Run it on demand (it is not part of the test suite)::

    .venv/bin/python bench/apply_bench.py                       # all of it (~15 min)
    .venv/bin/python bench/apply_bench.py --requests 200 --plan-requests 1000   # quicker
    .venv/bin/python bench/apply_bench.py --emulator thread --plan-requests 0  # (a), (b) only

The emulator runs as its own process by default (``reconciler emulator --port 0``), so
it does not share a GIL with anything; ``--emulator thread`` runs it in a thread of the
benchmark instead (the CLI is a subprocess either way). Every API call gets
``latency_ms`` of injected latency (20 by default). The CLI runs as a subprocess, as a
user or CI runs it, so process start and request loading are in the times.

In one run, on a throwaway git repository of N new requests (mostly RecordDelete, a few
PrivacyJob and ConsentOptOut, a few identities each):

(a) apply one at a time: ``client: {maxConcurrency: 1, requestsPerSecond: 1000}``;
(b) emulator reset, a fresh copy of the repository, apply with ``maxConcurrency`` 4 (the
    default) and 8 (``--concurrency``); times and ratios to (a), the baseline;
(c) apply M requests with the latency off, then ``reconciler plan`` with it back on: the
    time and the HTTP calls the plan made.

HTTP calls are counted from the emulator's request log (its sequence numbers, so a log
longer than the emulator keeps still counts right). Each time comes with the CPU seconds
the CLI used (with the git processes it ran) and, when it is a process, the emulator: when
their sum nears the wall time, the run was bound by CPU, not by latency.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from reconciler.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID
from reconciler.emulator.testing import EmulatorAdmin, running_emulator

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench Author",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench Author",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
CREDENTIALS = {
    "ADOBE_CLIENT_ID": DEMO_CLIENT_ID,
    "ADOBE_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    "ADOBE_ORG_ID": DEMO_ORG_ID,
    "ADOBE_SANDBOX_NAME": "prod",
}
# One CLI run may take this long at most (10,000 requests without latency take far less).
RUN_TIMEOUT_S = 3600

RECORD_DELETE = """\
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: {name}
  ticket: JIRA-{i}
spec:
  datasetId: c48b51623ec641a2949d339bad69cb15
  displayName: Consumer delete {i}
  description: Cleanup identities required by ticket {i}.
  identities:
    - namespace: {{code: email}}
      id: first.{i}@example.com
    - namespace: {{code: email}}
      id: second.{i}@example.com
    - namespace: {{code: email}}
      id: third.{i}@example.com
"""
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
CONSENT = """\
apiVersion: reconciler/v1
kind: ConsentOptOut
metadata:
  name: {name}
spec:
  optOutOfSale: true
  entities:
    - nameSpace: email
      values: [opt.{i}@example.com, other.{i}@example.com]
"""


def template(i: int) -> str:
    """90% RecordDelete, 5% PrivacyJob, 5% ConsentOptOut."""
    if i % 20 == 7:
        return PRIVACY_JOB
    if i % 20 == 13:
        return CONSENT
    return RECORD_DELETE


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV}
    )


def make_repo(root: Path, n: int, prefix: str) -> Counter[str]:
    """A committed repository of ``n`` new requests; returns how many of each kind."""
    kinds: Counter[str] = Counter()
    for i in range(n):
        name = f"{prefix}-{i:05d}"
        text = template(i)
        kinds[text.split("kind: ", 1)[1].split("\n", 1)[0]] += 1
        path = root / "requests" / f"{i % 100:02d}" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name, i=i), encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"declare {n} requests")
    return kinds


def set_client(repo: Path, concurrency: int) -> None:
    """Commit the client settings: apply runs only on committed settings and requests."""
    text = f"client:\n  maxConcurrency: {concurrency}\n  requestsPerSecond: 1000\n"
    (repo / "reconciler.yaml").write_text(text, encoding="utf-8")
    git(repo, "add", "reconciler.yaml")
    git(repo, "commit", "-q", "--allow-empty", "-m", f"maxConcurrency {concurrency}")


@dataclass
class Emulator:
    url: str
    admin: EmulatorAdmin
    mode: str
    pid: int | None = None
    last_seq: int = 0

    def cpu_seconds(self) -> float | None:
        """CPU time the emulator process used so far (Linux), None when it is not a process."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **GIT_ENV,
            **CREDENTIALS,
            "ADOBE_IMS_URL": self.url,
            "ADOBE_PLATFORM_URL": self.url,
        }

    def mark(self) -> int:
        """The sequence number of the last logged call (kept across a reset's empty log)."""
        log = self.admin.requests()
        if log:
            self.last_seq = int(log[-1]["seq"])
        return self.last_seq

    def calls_since(self, mark: int) -> tuple[int, Counter[str]]:
        """How many API calls since ``mark``, and by method and route when the log holds them."""
        log = self.admin.requests()
        end = self.mark()
        by_route: Counter[str] = Counter()
        for entry in log:
            if entry["seq"] > mark:
                by_route[f"{entry['method']} {route(entry['path'])}"] += 1
        return end - mark, by_route


def route(path: str) -> str:
    if path.startswith("/data/core/hygiene/workorder/"):
        return "/workorder/{id}"
    return path.removeprefix("/data/core/hygiene").removeprefix("/data/core/privacy")


@contextmanager
def emulator(mode: str) -> Iterator[Emulator]:
    """The emulator in its own process (``subprocess``) or in a thread of this one."""
    env = {**os.environ, **CREDENTIALS, "PYTHONUNBUFFERED": "1"}
    if mode == "thread":
        os.environ.update(CREDENTIALS)
        with running_emulator() as emu:
            yield Emulator(emu.url, emu.admin, mode)
        return
    command = [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--db", ":memory:"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "Adobe API emulator listening on http://… (database …)"
        if "listening on " not in first:
            raise RuntimeError(f"the emulator did not start: {first!r}")
        url = first.split("listening on ", 1)[1].split()[0]
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Emulator(url, EmulatorAdmin(http), mode, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass(frozen=True)
class Timing:
    wall: float
    cli_cpu: float
    emulator_cpu: float | None

    def __str__(self) -> str:
        emulator = "" if self.emulator_cpu is None else f", emulator {self.emulator_cpu:.1f} s"
        return f"{self.wall:8.2f} s  (CPU: CLI {self.cli_cpu:.1f} s{emulator})"


def reconciler(emu: Emulator, repo: Path, *args: str) -> tuple[Timing, str]:
    """Run the CLI as a user does; returns its times and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulator_before = emu.cpu_seconds()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(repo), *args],
        env=emu.env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    emulator_after = emu.cpu_seconds()
    cli_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    emulator_cpu = (
        None
        if emulator_before is None or emulator_after is None
        else emulator_after - emulator_before
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"reconciler {' '.join(args)} exited {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return Timing(elapsed, cli_cpu, emulator_cpu), proc.stdout


@dataclass(frozen=True)
class Measure:
    label: str
    timing: Timing
    calls: int
    by_route: Counter[str]


def measured_apply(
    emu: Emulator, pristine: Path, work: Path, concurrency: int, latency_ms: float
) -> Measure:
    """Reset the emulator, copy the pristine repository, apply it with ``concurrency``."""
    emu.admin.reset()
    emu.admin.set_faults({"latency_ms": latency_ms})
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(pristine, work, symlinks=True)
    set_client(work, concurrency)
    mark = emu.mark()
    timing, output = reconciler(emu, work, "apply", "--auto-approve")
    tail = output.strip().splitlines()[-1]
    if "0 failed" not in tail:
        raise RuntimeError(f"apply did not apply everything: {tail}")
    calls, by_route = emu.calls_since(mark)
    return Measure(f"maxConcurrency {concurrency}", timing, calls, by_route)


def print_breakdown(by_route: Counter[str], n: int) -> None:
    for key, count in sorted(by_route.items(), key=lambda kv: -kv[1]):
        print(f"    {key:<28} {count:>7,}  ({count / n:.2f} per request)")


def describe(kinds: Counter[str]) -> str:
    return ", ".join(f"{count:,} {kind}" for kind, count in sorted(kinds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1_000, help="new requests to apply")
    parser.add_argument(
        "--plan-requests", type=int, default=10_000, help="requests to plan (0: skip (c))"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="maxConcurrency for (b)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency per API call")
    parser.add_argument("--emulator", choices=("subprocess", "thread"), default="subprocess")
    args = parser.parse_args()
    latency = args.latency_ms
    n = args.requests

    with tempfile.TemporaryDirectory(prefix="apply-bench-") as tmp, emulator(args.emulator) as emu:
        root = Path(tmp)
        pristine = root / "pristine"
        kinds = make_repo(pristine, n, "req")
        print(f"emulator: {emu.mode}; CLI: subprocess; {latency:g} ms latency on every API call")
        print(f"(a)/(b) apply {n:,} new requests ({describe(kinds)})")
        runs = [measured_apply(emu, pristine, root / "work", 1, latency)]
        for concurrency in dict.fromkeys((4, args.concurrency)):
            runs.append(measured_apply(emu, pristine, root / "work", concurrency, latency))
        baseline = runs[0].timing.wall
        for m in runs:
            print(
                f"  {m.label:<18} {m.timing}  {baseline / m.timing.wall:5.2f}x  "
                f"{m.calls:,} calls ({m.calls / n:.2f} per request)"
            )
        print("  calls of the sequential apply, by method and route:")
        print_breakdown(runs[0].by_route, n)

        if args.plan_requests <= 0:
            return
        big = root / "big"
        kinds = make_repo(big, args.plan_requests, "old")
        print(f"(c) plan {args.plan_requests:,} applied requests ({describe(kinds)})")
        emu.admin.reset()
        emu.admin.set_faults({})
        set_client(big, args.concurrency)
        timing, output = reconciler(emu, big, "apply", "--auto-approve")
        tail = output.strip().splitlines()[-1]
        print(f"  apply, no latency, maxConcurrency {args.concurrency}: {timing}  [{tail}]")
        emu.admin.set_faults({"latency_ms": latency})
        mark = emu.mark()
        timing, output = reconciler(emu, big, "plan")
        calls, by_route = emu.calls_since(mark)
        tail = output.strip().splitlines()[-1]
        print(f"  plan, {latency:g} ms latency: {timing}, {calls:,} HTTP calls  [{tail.strip()}]")
        print_breakdown(by_route, args.plan_requests)


if __name__ == "__main__":
    main()
