"""Canary: run the whole loop with canary identities and a canary secret, then look for them
everywhere the tool writes: stdout, stderr with debug logging, plan files, ledger files,
every git object other than the request files themselves, and error messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.emulator.config import ClientConfig, EmulatorConfig
from reconciler.emulator.testing import running_emulator
from tests.conftest import git, write

CANARY_EMAIL = "kanarie.vogel.7f3a@example.com"
CANARY_ECID = "73519864207351986420735198642073"
CANARY_CONSENT = "optout.kanarie.7f3a@example.net"
CANARY_SECRET = "canary-secret-0d1e2f3a4b5c"
# Masking keeps an email's domain on purpose (p***@example.com): the local parts are canaries.
CANARIES = (CANARY_EMAIL, CANARY_ECID, CANARY_CONSENT, CANARY_SECRET, "kanarie")

REQUESTS = {
    "requests/canary-delete.yaml": f"""\
apiVersion: reconciler/v1
kind: RecordDelete
metadata: {{name: canary-delete, allowAllDatasets: true}}
spec:
  datasetId: ALL
  displayName: Canary delete
  namespacesIdentities:
    - namespace: {{code: email}}
      ids: ["{CANARY_EMAIL}"]
    - namespace: {{code: ECID}}
      ids: ["{CANARY_ECID}"]
""",
    "requests/canary-job.yaml": f"""\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata: {{name: canary-job}}
spec:
  regulation: gdpr
  include: [analytics]
  users:
    - key: subject-1
      action: [access, delete]
      userIDs: [{{namespace: email, value: "{CANARY_EMAIL}", type: standard}}]
""",
    "requests/canary-consent.yaml": f"""\
apiVersion: reconciler/v1
kind: ConsentOptOut
metadata: {{name: canary-consent}}
spec:
  optOutOfSale: true
  entities: [{{nameSpace: email, values: ["{CANARY_CONSENT}"]}}]
""",
}


def scan(text: str, where: str) -> list[str]:
    return [f"{where}: {c}" for c in CANARIES if c in text]


@pytest.fixture
def canary_emulator():
    client = ClientConfig("canary-client", CANARY_SECRET, "CANARY00000000000000000@AdobeOrg")
    with running_emulator(EmulatorConfig(clients=(client,))) as emu:
        yield emu


def test_no_canary_anywhere(canary_emulator, repo: Path, tmp_path: Path) -> None:
    emu = canary_emulator
    env = {
        **os.environ,
        **emu.env(),
        "ADOBE_SANDBOX_NAME": "prod",
        "ADOBE_CLIENT_SECRET": CANARY_SECRET,
    }
    for rel, text in REQUESTS.items():
        write(repo, rel, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare canaries")
    hits: list[str] = []
    debug_lines: list[str] = []

    def cli(*args: str, code: int | None = 0) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", "-vv", "-C", str(repo), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if code is not None:
            assert proc.returncode == code, proc.stdout + proc.stderr
        hits.extend(scan(proc.stdout, f"stdout of {args}"))
        hits.extend(scan(proc.stderr, f"stderr of {args}"))
        debug_lines.extend(x for x in proc.stderr.splitlines() if x.startswith("DEBUG"))

    for fmt in ("text", "json", "github", "sarif"):
        cli("validate", "--format", fmt)
    for fmt in ("text", "markdown", "json"):
        cli("plan", "--format", fmt)
        cli("plan", "--offline", "--format", fmt)
    cli("plan", "--out", "plan.json")
    cli("apply", "plan.json")
    emu.admin.advance(3600)
    cli("status", "--commit")
    for fmt in ("table", "json", "csv"):
        cli("audit", "--format", fmt)
    # Errors: a bad identity, an immutable change, a refused call.
    bad = repo / "requests/canary-consent.yaml"
    bad.write_text(bad.read_text().replace(CANARY_CONSENT, "kanarie.vogel@@example.org"))
    cli("validate", "--base", "HEAD", code=1)
    cli("plan", code=1)
    git(repo, "checkout", "--", "requests/canary-consent.yaml")
    env["ADOBE_CLIENT_SECRET"] = CANARY_SECRET + "-wrong"
    cli("status", code=1)
    env["ADOBE_CLIENT_SECRET"] = CANARY_SECRET
    # Files the tool wrote.
    for path in [repo / "plan.json", *sorted((repo / "ledger").glob("*.json"))]:
        hits.extend(scan(path.read_text(), str(path.relative_to(repo))))
    # Every git object except the request files' own blobs.
    request_blobs = set(
        git(repo, "log", "--all", "--format=", "--raw", "--no-abbrev", "--", "requests").split()
    )
    objects = git(repo, "rev-list", "--all", "--objects").split("\n")
    for line in objects:
        sha = line.split(" ")[0]
        if not sha or sha in request_blobs:
            continue
        kind = git(repo, "cat-file", "-t", sha).strip()
        body = git(repo, "cat-file", "-p", sha) if kind != "tree" else ""
        hits.extend(scan(body, f"git {kind} {sha[:10]}"))
    assert len(objects) > 10
    assert len(debug_lines) > 20  # the logs scanned above were really at debug level
    assert hits == []
