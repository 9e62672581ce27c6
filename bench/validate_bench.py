"""Benchmark: `reconciler validate` on 10,000 request files vs. merely parsing them.

Writes a throwaway repository of N request files (all three kinds, a few
identities each), then in the same run measures:

* baseline: reading and parsing every file with PyYAML's C loader, nothing else;
* in-process: reconciler's validation core (load, schema, rules);
* CLI: the `reconciler validate` command as a user runs it (process start included).

Prints the times and the ratios to the baseline. Run: `make bench` or
`python bench/validate_bench.py [N]`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from reconciler.check.validation import validate
from reconciler.settings import load_settings

KINDS = [
    """apiVersion: reconciler/v1
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
""",
    """apiVersion: reconciler/v1
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
""",
    """apiVersion: reconciler/v1
kind: ConsentOptOut
metadata:
  name: {name}
spec:
  optOutOfSale: true
  entities:
    - nameSpace: email
      values: [opt.{i}@example.com, other.{i}@example.com]
""",
]


def make_repo(root: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        name = f"req-{i:05d}"
        path = root / "requests" / f"{i % 100:02d}" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(KINDS[i % 3].format(name=name, i=i), encoding="utf-8")
        paths.append(path)
    return paths


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_repo(root, n)

        def parse_only() -> None:
            for p in sorted((root / "requests").rglob("*.yaml")):
                yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)

        def in_process() -> None:
            report = validate(load_settings(root))
            assert report.success and report.files_checked == n, report.findings[:3]

        def cli() -> None:
            subprocess.run(
                [sys.executable, "-m", "reconciler", "-C", str(root), "validate"],
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ},
            )

        parse_only()  # warm the page cache for every contender alike
        baseline = min(timed(parse_only) for _ in range(3))
        core = min(timed(in_process) for _ in range(3))
        command = min(timed(cli) for _ in range(2))
        print(f"files: {len(paths):,}")
        print(f"PyYAML CSafeLoader parse only : {baseline:7.2f} s  (1.00x)")
        print(f"validate, in process          : {core:7.2f} s  ({core / baseline:.2f}x)")
        print(f"reconciler validate (CLI)     : {command:7.2f} s  ({command / baseline:.2f}x)")


if __name__ == "__main__":
    main()
