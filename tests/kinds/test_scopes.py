"""Two repositories in one Adobe organisation: the CLI, real git, one emulator over HTTP.

Each repository has its own scope and requests named like the other's. Neither
adopts, recovers or reports the other's objects; objects tagged before scopes
existed stay their repository's own. Tags and keys are decoded here from their
documented form, never by the code under test.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from tests.conftest import PRIVACY_JOB, RECORD_DELETE, git, write, writes

TEAM_A, TEAM_B = "teama111", "teamb222"
WORK_ORDER_TAG = re.compile(r" \[reconciler:(?:([a-z0-9]{4,16})/)?([a-z0-9][-a-z0-9]*)\]\Z")
JOB_KEY = re.compile(r"\A(?:([a-z0-9]{4,16})/)?([a-z0-9][-a-z0-9]*):(.+)\Z")
OTHER_DATASET = "7eab61f3e5c34810a49a1ab3"  # one of the emulator's datasets
EXPIRATION = """\
apiVersion: reconciler/v1
kind: DatasetExpiration
metadata:
  name: {name}
spec:
  datasetId: {dataset}
  expiry: "2031-03-31"
  displayName: Retention
  description: Retention schedule.
"""


def start(tmp_path: Path, name: str, scope: str, *requests: tuple[str, str]) -> Path:
    """A repository with ``scope`` in reconciler.yaml and ``requests`` committed on main."""
    path = tmp_path / name
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, "reconciler.yaml", f"scope: {scope}\nclient:\n  requestsPerSecond: 1000\n")
    for rel, text in requests:
        write(path, rel, text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "Requests")
    return path


def apply(run: Any, repo: Path) -> Any:
    result = run("-C", str(repo), "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return result


def work_orders(adobe: Any) -> Counter[tuple[str, str]]:
    """(scope, name) of every tagged work order at the emulator ("" for no scope)."""
    found: Counter[tuple[str, str]] = Counter()
    for order in adobe.admin.workorders():
        match = WORK_ORDER_TAG.search(order.get("description") or "")
        if match:
            found[(match.group(1) or "", match.group(2))] += 1
    return found


def jobs(adobe: Any) -> Counter[tuple[str, str, str, str]]:
    """(scope, name, user, product) of every privacy job at the emulator."""
    found: Counter[tuple[str, str, str, str]] = Counter()
    for job in adobe.admin.jobs():
        match = JOB_KEY.match(job.get("userKey") or "")
        if match:
            scope, name, user = match.groups()
            found[(scope or "", name, user, job["product"])] += 1
    return found


def ledger(repo: Path, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads((repo / f"ledger/{name}.json").read_text())
    return entry


def job_keys(adobe: Any, repo: Path, name: str) -> set[str]:
    """The user keys the emulator holds for the jobs ``repo``'s ledger records for ``name``."""
    ids = {j["jobId"] for j in ledger(repo, name)["remote"]["jobs"]}
    assert ids
    return {j["userKey"] for j in adobe.admin.jobs() if j["jobId"] in ids}


def order_of(adobe: Any, description_end: str) -> dict[str, Any]:
    (order,) = [o for o in adobe.admin.workorders() if o["description"].endswith(description_end)]
    return dict(order)


def test_two_repositories_with_the_same_names_keep_their_own_objects(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    record_delete = ("requests/record-deletes/jira-1.yaml", RECORD_DELETE.format(name="jira-1"))
    privacy_job = ("requests/privacy-jobs/dsr-1.yaml", PRIVACY_JOB.format(name="dsr-1"))
    a = start(tmp_path, "team-a", TEAM_A, record_delete, privacy_job)
    # The same privacy job, file for file (adopting A's would look right: same users and
    # actions), and a record delete of the same name from another dataset (A's would
    # look like a conflict).
    other = RECORD_DELETE.format(name="jira-1").replace(
        "c48b51623ec641a2949d339bad69cb15", OTHER_DATASET
    )
    b = start(tmp_path, "team-b", TEAM_B, (record_delete[0], other), privacy_job)

    assert "2 created" in apply(run, a).output
    planned = run("-C", str(b), "plan")
    assert planned.exit_code == 0, planned.output
    assert planned.output.count("create ") == 2
    assert "adopt" not in planned.output and "conflict" not in planned.output
    second = apply(run, b)
    assert "2 created" in second.output and "found at Adobe" not in second.output

    assert work_orders(adobe) == {(TEAM_A, "jira-1"): 1, (TEAM_B, "jira-1"): 1}
    products = ("analytics", "profileService")
    assert jobs(adobe) == {
        (scope, "dsr-1", "user-1", product): 2  # one job per action: access and delete
        for scope in (TEAM_A, TEAM_B)
        for product in products
    }
    # Each ledger records its own repository's objects.
    mine_a = order_of(adobe, f"[reconciler:{TEAM_A}/jira-1]")
    mine_b = order_of(adobe, f"[reconciler:{TEAM_B}/jira-1]")
    assert ledger(a, "jira-1")["remote"] == {"workorderId": mine_a["workorderId"]}
    assert ledger(b, "jira-1")["remote"] == {"workorderId": mine_b["workorderId"]}
    assert mine_b["datasetId"] == OTHER_DATASET
    assert job_keys(adobe, a, "dsr-1") == {f"{TEAM_A}/dsr-1:user-1"}
    assert job_keys(adobe, b, "dsr-1") == {f"{TEAM_B}/dsr-1:user-1"}

    # A second apply of each changes nothing, at Adobe or in its ledger.
    before = len(writes(adobe))
    ledgers = {r: sorted(p.read_bytes() for p in (r / "ledger").glob("*.json")) for r in (a, b)}
    for repo in (a, b):
        assert "No changes" in apply(run, repo).output
    assert len(writes(adobe)) == before
    assert ledgers == {
        r: sorted(p.read_bytes() for p in (r / "ledger").glob("*.json")) for r in (a, b)
    }


def test_another_scopes_objects_are_not_found_after_a_lost_ledger(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    record_delete = ("requests/record-deletes/jira-1.yaml", RECORD_DELETE.format(name="jira-1"))
    privacy_job = ("requests/privacy-jobs/dsr-1.yaml", PRIVACY_JOB.format(name="dsr-1"))
    a = start(tmp_path, "team-a", TEAM_A, record_delete, privacy_job)
    b = start(tmp_path, "team-b", TEAM_B, record_delete, privacy_job)
    apply(run, a)
    apply(run, b)
    orders = dict(work_orders(adobe))
    # B loses its ledger: it finds its own objects again, and only those.
    for path in (b / "ledger").glob("*.json"):
        path.unlink()
    planned = run("-C", str(b), "plan")
    assert planned.output.count("adopt ") == 2, planned.output
    apply(run, b)
    mine_b = order_of(adobe, f"[reconciler:{TEAM_B}/jira-1]")
    assert ledger(b, "jira-1")["remote"] == {"workorderId": mine_b["workorderId"]}
    assert job_keys(adobe, b, "dsr-1") == {f"{TEAM_B}/dsr-1:user-1"}
    assert dict(work_orders(adobe)) == orders


def test_a_dataset_expiration_of_another_scope_is_not_taken_for_ours(
    run: Any, adobe: Any, tmp_path: Path
) -> None:
    rel = "requests/dataset-expirations/retention.yaml"
    dataset_a = "3e9f815ae1194c65b2a4c5ea"
    a = start(
        tmp_path, "team-a", TEAM_A, (rel, EXPIRATION.format(name="retention", dataset=dataset_a))
    )
    b = start(
        tmp_path,
        "team-b",
        TEAM_B,
        (rel, EXPIRATION.format(name="retention", dataset=OTHER_DATASET)),
    )
    apply(run, a)
    assert "1 created" in apply(run, b).output
    found = Counter(
        (e["datasetId"], e["description"].rsplit(" ", 1)[-1]) for e in adobe.admin.expirations()
    )
    assert found == {
        (dataset_a, f"[reconciler:{TEAM_A}/retention]"): 1,
        (OTHER_DATASET, f"[reconciler:{TEAM_B}/retention]"): 1,
    }
    for repo in (a, b):
        assert "No changes" in apply(run, repo).output


@pytest.fixture
def client(adobe: Any) -> Any:
    with AdobeClient(AdobeConfig.from_env({**os.environ})) as made:
        yield made


def test_objects_tagged_before_scopes_stay_their_repositorys(
    run: Any, adobe: Any, client: Any, tmp_path: Path
) -> None:
    # Made as a version without scopes made them: the tag and key without a scope.
    order = client.hygiene.create_work_order(
        dataset_id="c48b51623ec641a2949d339bad69cb15",
        display_name="Example",
        description="Example description. [reconciler:jira-2]",
        identities=[("email", "a@example.com"), ("email", "b@example.com")],
    )
    client.privacy.create_privacy_job(
        regulation="gdpr",
        users=[
            {
                "key": "dsr-2:user-1",
                "action": ["access", "delete"],
                "userIDs": [{"namespace": "email", "value": "c@example.com", "type": "standard"}],
            }
        ],
        include=["analytics", "profileService"],
    )
    before_jobs = dict(jobs(adobe))
    a = start(
        tmp_path,
        "team-a",
        TEAM_A,
        ("requests/record-deletes/jira-2.yaml", RECORD_DELETE.format(name="jira-2")),
        ("requests/privacy-jobs/dsr-2.yaml", PRIVACY_JOB.format(name="dsr-2")),
    )
    planned = run("-C", str(a), "plan")
    assert planned.output.count("adopt ") == 2, planned.output
    assert "0 to update" in planned.output  # the older tag is no reason to update
    writes_before = len(writes(adobe))
    assert "2 found at Adobe and recorded" in apply(run, a).output
    assert writes(adobe)[writes_before:] == []
    assert ledger(a, "jira-2")["remote"] == {"workorderId": order.workorder_id}
    assert dict(jobs(adobe)) == before_jobs
    assert "No changes" in apply(run, a).output

    # A real change of the description keeps the work order's older tag.
    path = a / "requests/record-deletes/jira-2.yaml"
    path.write_text(path.read_text().replace("Example description.", "Changed."))
    git(a, "commit", "-qam", "Describe jira-2 better")
    assert "1 updated" in apply(run, a).output
    assert order_of(adobe, "[reconciler:jira-2]")["description"] == "Changed. [reconciler:jira-2]"
    assert "No changes" in apply(run, a).output
