"""The GitOps loop with encrypted identities and a repository that allows no cleartext:
the pull-request check without the key, apply with it, the same work orders, jobs and
consents at the emulator as a cleartext run, a key rotation that changes nothing at Adobe,
and no canary identity anywhere in the repository's objects or the tool's output."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.testing import running_emulator
from reconciler.reconcile.tagging import untag
from tests.conftest import git, write, writes
from tests.encryption_helpers import configure, new_key, settings_text
from tests.git.test_gitops_loop import PRIYA, RUI, as_

CANARY_EMAIL = "kanarie.versleuteld.5e1b@example.com"
CANARY_OTHER = "kanarie.tweede.5e1b@example.org"
CANARY_ECID = "58213904761582139047615821390476"
CANARY_CONSENT = "optout.kanarie.5e1b@example.net"
CANARIES = (CANARY_EMAIL, CANARY_OTHER, CANARY_ECID, CANARY_CONSENT, "kanarie")
IDS_CSV = f"email\n{CANARY_EMAIL}\n{CANARY_OTHER}\n"
JOB = f"""\
apiVersion: reconciler/v1
kind: PrivacyJob
metadata:
  name: canary-job
  ticket: GDPR-77   # the subject's access and erasure request
spec:
  regulation: gdpr
  include: [analytics, profileService]
  users:
    - key: subject-1
      action: [access, delete]
      userIDs:
        - namespace: email
          value: {CANARY_EMAIL}
          type: standard
        - namespace: ECID
          value: "{CANARY_ECID}"
          type: standard
"""
CONSENT = f"""\
apiVersion: reconciler/v1
kind: ConsentOptOut
metadata: {{name: canary-consent}}
spec:
  optOutOfSale: true
  entities: [{{nameSpace: email, values: ["{CANARY_CONSENT}"]}}]
"""
NEW = ["new", "record-delete", "--name", "canary-delete", "--dataset", "ALL", "--csv"]


def confirm_all_datasets(repository: Path) -> None:
    """What the person who asked for every dataset types, since `new` never writes it."""
    path = repository / "requests/record-deletes/canary-delete.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("  name: canary-delete\n", "  name: canary-delete\n  allowAllDatasets: true\n")
    )


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An emulator of our own with its state in a file, to read what it was sent."""
    db = tmp_path / "emulator.db"
    with running_emulator(db=db) as emu:
        for key, value in emu.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("ADOBE_SANDBOX_NAME", "prod")
        yield emu, db


def unscoped(key: str) -> str:
    """A job's user key without the scope of the repository that sent it (two runs here
    are two repositories)."""
    return re.sub(r"\A[a-z0-9]{4,16}/", "", key)


def received(emu: Any, db: Path) -> dict[str, Any]:
    """What the emulator holds: work orders and their identities, jobs with their user ids,
    consents, each without the remote ids (which differ from run to run)."""
    with sqlite3.connect(db) as conn:
        identities = sorted(conn.execute("SELECT namespace, value FROM workorder_identities"))
        user_ids = sorted(
            (unscoped(key), json.dumps(json.loads(ids), sort_keys=True))
            for key, ids in conn.execute("SELECT user_key, user_ids FROM privacy_jobs")
        )
    return {
        "workorders": sorted(
            (w["datasetId"], w["displayName"], untag(w["description"])[1], w["identityCount"])
            for w in emu.admin.workorders()
        ),
        "identities": identities,
        "jobs": sorted(
            (unscoped(j["userKey"]), j["action"], j["product"], j["regulation"])
            for j in emu.admin.jobs()
        ),
        "user_ids": user_ids,
        "consents": [(c["requests"], c["entities"], c["identities"]) for c in emu.admin.consents()],
    }


def canaries_in_objects(repository: Path) -> list[str]:
    """The canaries found in any object of the repository's object store, reachable or not."""
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repository,
        check=True,
        capture_output=True,
    ).stdout
    assert objects.count(b" blob ") >= 3
    return [f"{repository.name}: {c}" for c in CANARIES if c.encode() in objects]


def cleartext_run(run, tmp_path: Path, csv: Path) -> Path:
    """The same requests, in clear, applied from a plain repository."""
    plain = tmp_path / "plain"
    (plain / "requests").mkdir(parents=True)
    git(plain, "init", "-q", "-b", "main")
    configure(plain, cleartext=True)
    assert run("-C", str(plain), *NEW, str(csv)).exit_code == 0
    confirm_all_datasets(plain)
    write(plain, "requests/privacy-jobs/canary-job.yaml", JOB)
    write(plain, "requests/consent/canary-consent.yaml", CONSENT)
    git(plain, "add", "-A")
    git(plain, "commit", "-qm", "canaries in clear")
    applied = run("-C", str(plain), "apply", "--auto-approve")
    assert applied.exit_code == 0 and "3 created" in applied.output, applied.output
    return plain


def test_the_loop_with_encrypted_identities(run, emulator, tmp_path: Path, monkeypatch) -> None:
    emu, db = emulator
    csv = write(tmp_path, "ids.csv", IDS_CSV)  # outside every repository
    plain = cleartext_run(run, tmp_path, csv)
    assert len(canaries_in_objects(plain)) == len(CANARIES)  # the scan finds them in clear
    expected = received(emu, db)
    assert expected["identities"] == sorted([("email", CANARY_EMAIL), ("email", CANARY_OTHER)])
    emu.admin.reset()

    outputs: list[str] = []

    def cli(*args: str, code: int = 0, key: str | None = None) -> str:
        if key is not None:
            monkeypatch.setenv("RECONCILER_AGE_KEY", key)
        try:
            result = run("-C", str(work), *args)
        finally:
            monkeypatch.delenv("RECONCILER_AGE_KEY", raising=False)
        outputs.append(result.output)
        assert result.exit_code == code, result.output
        return result.output

    # The repository: no cleartext allowed, one recipient.
    old, new = new_key(), new_key()
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = tmp_path / "seed"
    write(seed, "reconciler.yaml", settings_text(old))
    (seed / "requests").mkdir()
    write(seed, "requests/.gitkeep", "")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "Start: identities are encrypted here")
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "-q", "origin", "main")
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(remote), str(work)], check=True)

    # Priya scaffolds one request from the CSV (encrypted as written) and writes two by hand;
    # the check refuses those in clear until she encrypts them, before anything is committed.
    as_(PRIYA, work, "checkout", "-q", "-b", "add-canaries")
    assert "identities encrypted for 1 recipient" in cli(*NEW, str(csv))
    confirm_all_datasets(work)
    write(work, "requests/privacy-jobs/canary-job.yaml", JOB)
    write(work, "requests/consent/canary-consent.yaml", CONSENT)
    assert cli("validate", code=1).count("(cleartext-identity)") == 3
    assert "3 value(s) encrypted in 2 file(s)" in cli("encrypt")
    job = (work / "requests/privacy-jobs/canary-job.yaml").read_text()
    assert "ticket: GDPR-77   # the subject's access and erasure request" in job
    as_(PRIYA, work, "add", "-A")
    as_(PRIYA, work, "commit", "-qm", "Add the canary requests")

    # The pull-request check has no key: it validates and plans all the same.
    cli("validate", "--base", "origin/main", "--format", "github")
    summary = cli("plan", "--offline", "--format", "markdown")
    assert summary.count("| + | **create** |") == 3
    assert "2 identities (email) → dataset ALL" in summary

    # Rui merges; the apply job has the key.
    as_(RUI, work, "checkout", "-q", "main")
    as_(RUI, work, "merge", "-q", "--no-ff", "add-canaries", "-m", "Merge the canary requests")
    assert "3 created" in cli("apply", "--auto-approve", "--commit", key=old.secret)
    as_(RUI, work, "push", "-q", "origin", "main")
    assert received(emu, db) == expected
    sent = len(writes(emu))
    assert "No changes" in cli("apply", "--auto-approve", key=old.secret)
    cli("plan", "--offline", "--detailed-exitcode")
    assert len(writes(emu)) == sent

    # Key rotation: a new recipient replaces the old one. Until rekey, the new key decrypts
    # nothing (without a key, one recipient for another looks the same); rekey needs the old.
    as_(PRIYA, work, "checkout", "-q", "-b", "rotate")
    settings = work / "reconciler.yaml"  # the recipient changes, the fingerprint key stays
    settings.write_text(settings.read_text().replace(old.public, new.public))
    assert cli("validate", code=1, key=new.secret).count("(decrypt-failed)") == 5
    assert "5 value(s) re-encrypted in 3 file(s)" in cli("rekey", key=old.secret)
    as_(PRIYA, work, "commit", "-qam", "Rotate the age key")
    assert "requests/" in as_(PRIYA, work, "diff", "--stat", "main")
    cli("validate", "--base", "origin/main")  # no immutable-field: nothing really changed
    cli("plan", "--offline", "--detailed-exitcode")
    as_(RUI, work, "checkout", "-q", "main")
    as_(RUI, work, "merge", "-q", "--no-ff", "rotate", "-m", "Merge the rotation")
    assert "(decrypt-failed)" in cli("validate", code=1, key=old.secret)
    cli("plan", "--detailed-exitcode", key=new.secret)
    assert "Ledger unchanged" in cli("apply", "--auto-approve", "--commit", key=new.secret)
    as_(RUI, work, "push", "-q", "origin", "main")
    assert len(writes(emu)) == sent
    assert received(emu, db) == expected

    # No canary in anything the tool printed, nor in any object of either repository.
    hits = [f"output {i}: {c}" for i, out in enumerate(outputs) for c in CANARIES if c in out]
    for repository in (work, remote):
        hits += canaries_in_objects(repository)
    for path in (work / "ledger").glob("*.json"):
        hits += [f"{path.name}: {c}" for c in CANARIES if c in path.read_text()]
    assert hits == []
