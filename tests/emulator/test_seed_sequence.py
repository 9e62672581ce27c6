"""The seed's documented sequence over HTTP: create, read, productStatusDetails, update."""

from __future__ import annotations

import httpx

from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, SEED_DATASET, workorder_body

DOCUMENTED_FIELDS = {
    "workorderId",
    "orgId",
    "bundleId",
    "action",
    "createdAt",
    "updatedAt",
    "status",
    "createdBy",
    "datasetId",
    "displayName",
    "description",
}


def test_seed_sequence(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    created = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers)
    assert created.status_code == 200
    order = created.json()
    assert DOCUMENTED_FIELDS <= order.keys()
    assert order["workorderId"].startswith("DI-")
    assert order["bundleId"].startswith("BN-")
    assert order["action"] == "identity-delete"
    assert order["status"] == "received"
    assert order["orgId"] == emulator.client.org_id
    assert order["datasetId"] == SEED_DATASET
    assert order["displayName"] == "Example Consumer Delete Request"
    assert order["description"] == "Cleanup identities required by Jira request 12345."
    assert "identities" not in order and "namespacesIdentities" not in order

    url = f"{HYGIENE}/workorder/{order['workorderId']}"
    fetched = http.get(url, headers=headers).json()
    assert fetched["status"] == "received"
    assert "productStatusDetails" not in fetched

    emulator.admin.advance(15 * 60)
    later = http.get(url, headers=headers).json()
    assert later["status"] == "submitted"
    products = later["productStatusDetails"]
    assert [p["productName"] for p in products] == [
        "Data Management",
        "Identity Service",
        "Profile Service",
        "Journey Orchestrator",
    ]
    assert {p["productStatus"] for p in products} == {"waiting"}

    update = {"displayName": "Update - displayName", "description": "Update - description"}
    updated = http.put(url, json=update, headers=headers)
    assert updated.status_code == 200
    after = updated.json()
    assert after["displayName"] == "Update - displayName"
    assert after["description"] == "Update - description"
    unchanged = {
        k: v for k, v in later.items() if k not in ("displayName", "description", "updatedAt")
    }
    assert {k: after[k] for k in unchanged} == unchanged
    assert after["updatedAt"] >= later["updatedAt"]
    assert http.get(url, headers=headers).json()["displayName"] == "Update - displayName"


def test_put_accepts_the_specs_name_field(http: httpx.Client, headers: dict[str, str]) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    url = f"{HYGIENE}/workorder/{order['workorderId']}"
    after = http.put(url, json={"name": "Renamed"}, headers=headers).json()
    assert after["displayName"] == "Renamed"
    assert after["description"] == order["description"]


def test_put_ignores_other_fields(http: httpx.Client, headers: dict[str, str]) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    url = f"{HYGIENE}/workorder/{order['workorderId']}"
    body = {"description": "new", "datasetId": "ALL", "status": "completed", "action": "x"}
    after = http.put(url, json=body, headers=headers).json()
    assert after["description"] == "new"
    assert (after["datasetId"], after["status"], after["action"]) == (
        order["datasetId"],
        "received",
        "identity-delete",
    )


def test_put_with_nothing_to_change_is_refused(http: httpx.Client, headers: dict[str, str]) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    url = f"{HYGIENE}/workorder/{order['workorderId']}"
    answer = http.put(url, json={"datasetId": "ALL"}, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "400001"


def test_unknown_workorder_is_404(http: httpx.Client, headers: dict[str, str]) -> None:
    answer = http.get(f"{HYGIENE}/workorder/DI-nope", headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "404003"
