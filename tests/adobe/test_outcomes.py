"""Privacy Service's response codes: read from each job's product responses, kept in the
ledger's status, and explained by `status` when a request failed."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.adobe.outcomes import explain
from reconciler.kinds import Kind
from reconciler.reconcile.ledger import Entry, RemoteJob
from tests.adobe.conftest import PRIVACY, Harness, json_response
from tests.adobe.test_privacy import job
from tests.conftest import PRIVACY_JOB, git, write
from tests.ledger_helpers import record_applied

PRIVACY_KIND = Kind("PrivacyJob")


def product_response(product: str, status: str, code: str) -> dict[str, object]:
    return {
        "product": product,
        "retryCount": 0,
        "processedDate": "2026-06-15T10:00:00Z",
        "productStatusResponse": {"status": status, "message": "m", "responseMsgCode": code},
    }


def test_a_jobs_codes_and_product_are_what_the_status_records(harness: Harness) -> None:
    answers = {
        "job-1": job(
            "job-1",
            status="error",
            productResponses=[product_response("profileService", "error", "1021-400")],
        ),
        "job-2": job(
            "job-2",
            status="complete",
            productResponses=[product_response("analytics", "complete", "6000-200")],
        ),
    }
    for job_id, body in answers.items():
        harness.adobe.on("GET", f"{PRIVACY}/jobs/{job_id}", json_response(200, body))
    entry = Entry(
        name="dsr-1",
        kind=PRIVACY_KIND,
        path="requests/dsr-1.yaml",
        fingerprint=None,  # type: ignore[arg-type]  # refresh reads the jobs only
        submitted_at="2026-06-15T09:00:00Z",
        jobs=(RemoteJob("job-1", "dsr-1:u1"), RemoteJob("job-2", "dsr-1:u1")),
    )
    status = PRIVACY_KIND.refresh(harness.make(), entry)
    assert status is not None
    assert status.value == "error"
    # Named by product, not by job id; success is not a code to explain.
    assert status.products == (("profileService", "error"), ("analytics", "complete"))
    assert status.codes == (("profileService", "1021-400"),)


def test_codes_are_explained_and_unknown_ones_shown_as_they_are() -> None:
    assert explain("6052-200") == (
        "6052-200 User IDs not found: some user ids were not found and do not apply to this "
        "product: check that the identities are right"
    )
    assert explain("1030-400").startswith("1030-400 Document rate limit exceeded: ")
    assert explain("9999-400") == "9999-400 (not in Adobe's published codes)"


def test_status_explains_a_failed_request_in_adobes_words(run, adobe, repo: Path) -> None:
    write(repo, "requests/dsr-1.yaml", PRIVACY_JOB.format(name="dsr-1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    failed = {
        "value": "error",
        "observedAt": "2026-11-02T00:00:00Z",
        "products": [{"name": "profileService", "status": "error"}],
        "codes": [{"name": "profileService", "code": "1000-400"}],
    }
    record_applied(
        repo,
        "dsr-1",
        "requests/dsr-1.yaml",
        kind="PrivacyJob",
        remote={"jobs": [{"jobId": "job-1", "userKey": "dsr-1:user-1"}]},
        status=failed,
    )
    # A final status is not refreshed: nothing is asked of Adobe, the ledger is explained.
    result = run("-C", str(repo), "status", "--format", "json")
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)["requests"]
    assert row["codes"] == [
        {"product": "profileService", "code": "1000-400", "meaning": explain("1000-400")}
    ]
    assert "  profileService: 1000-400 Formatting error: one or more data values" in (result.output)


def test_status_names_a_jobs_product_not_its_id(run, adobe, repo: Path) -> None:
    write(repo, "requests/dsr-2.yaml", PRIVACY_JOB.format(name="dsr-2"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "declare")
    assert run("-C", str(repo), "apply", "--auto-approve").exit_code == 0
    adobe.admin.advance(40 * 24 * 3600)
    result = run("-C", str(repo), "status", "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["requests"]
    products = sorted(p["name"] for p in row["products"])
    assert products == ["analytics", "analytics", "profileService", "profileService"]
    assert not set(products) & set(row["remoteIds"])
    assert row["codes"] == []
