"""Adobe's limits and the identity-form rules."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body

BOTH = "Identities and NamespacesIdentities are not allowed at the same time"
NONE = "Identities are Empty for Delete Identity request."


def _ns_identities(count: int, namespace: str = "email") -> list[dict[str, object]]:
    return [{"namespace": {"code": namespace}, "IDs": [f"p{i}@example.com" for i in range(count)]}]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"namespacesIdentities": _ns_identities(1)}, BOTH, id="both"),
        pytest.param({"identities": None}, NONE, id="none"),
        pytest.param({"identities": []}, NONE, id="empty"),
    ],
)
def test_identity_forms(
    http: httpx.Client, headers: dict[str, str], changes: dict[str, object], message: str
) -> None:
    body = {k: v for k, v in workorder_body(**changes).items() if v is not None}
    answer = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "400001", "message": message}


def test_newer_identity_form_accepts_ids_in_either_spelling(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    for key in ("IDs", "ids"):
        body = workorder_body(
            identities=None,
            namespacesIdentities=[{"namespace": {"code": "email"}, key: ["a@x.io", "b@x.io"]}],
        )
        del body["identities"]
        answer = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["operationCount"] == 2
    assert [w["identityCount"] for w in emulator.admin.workorders()] == [2, 2]


def test_namespace_must_match_the_datasets_primary_identity(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    ecid = [{"namespace": {"code": "ECID"}, "id": "4436365767997586"}]
    answer = http.post(
        f"{HYGIENE}/workorder", json=workorder_body(identities=ecid), headers=headers
    )
    assert answer.status_code == 400
    mixed = workorder_body(datasetId="ALL")
    mixed["identities"] += ecid
    assert http.post(f"{HYGIENE}/workorder", json=mixed, headers=headers).status_code == 200


def test_request_action_must_be_delete_identity(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    body = workorder_body(action="identity-delete")
    assert http.post(f"{HYGIENE}/workorder", json=body, headers=headers).status_code == 400


def test_at_most_100000_identities_per_workorder(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    body = workorder_body(datasetId="ALL", namespacesIdentities=_ns_identities(100_000))
    del body["identities"]
    ok = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
    assert ok.status_code == 200
    assert ok.json()["operationCount"] == 100_000
    body["namespacesIdentities"][0]["IDs"].append("one-more@example.com")
    too_many = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
    assert too_many.status_code == 400
    assert "100000" in too_many.json()["message"]
    assert len(emulator.admin.workorders()) == 1


def test_at_most_1000_users_per_privacy_request(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    org = emulator.client.org_id
    ok = http.post(f"{PRIVACY}/jobs", json=job_body(org, count=1000), headers=headers)
    assert ok.status_code == 202
    assert ok.json()["totalRecords"] == 1000
    too_many = http.post(f"{PRIVACY}/jobs", json=job_body(org, count=1001), headers=headers)
    assert too_many.status_code == 400
    assert len(emulator.admin.jobs()) == 1000


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"regulation": None}, id="no-regulation"),
        pytest.param({"regulation": "gdpr-ish"}, id="bad-regulation"),
        pytest.param({"include": []}, id="no-products"),
        pytest.param({"include": ["no-such-product"]}, id="unknown-product"),
        pytest.param({"companyContexts": []}, id="no-company"),
        pytest.param({"priority": "urgent"}, id="priority"),
        pytest.param(
            {"users": [{"key": "k", "action": ["access"], "userIDs": []}]}, id="no-user-ids"
        ),
        pytest.param(
            {
                "users": [
                    {
                        "key": "k",
                        "action": ["access"],
                        "userIDs": [
                            {"namespace": "email", "value": f"{i}@x.io"} for i in range(10)
                        ],
                    }
                ]
            },
            id="ten-user-ids",
        ),
        pytest.param({"users": [{"key": "k", "action": ["erase"], "userIDs": []}]}, id="action"),
    ],
)
def test_privacy_request_rules(
    emulator: RunningEmulator,
    http: httpx.Client,
    headers: dict[str, str],
    changes: dict[str, object],
) -> None:
    body = {k: v for k, v in job_body(emulator.client.org_id, **changes).items() if v is not None}
    assert http.post(f"{PRIVACY}/jobs", json=body, headers=headers).status_code == 400
    assert emulator.admin.jobs() == []


def test_one_job_per_user_action_and_product(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    body = job_body(emulator.client.org_id, count=2, include=["analytics", "profileService"])
    body["users"][0]["action"] = ["access", "delete"]
    answer = http.post(f"{PRIVACY}/jobs", json=body, headers=headers).json()
    assert answer["totalRecords"] == len(answer["jobs"]) == 6
    assert answer["requestId"].split("RX-")[0].isdigit()
    keys = sorted(
        (j["customer"]["user"]["key"], j["customer"]["user"]["action"][0]) for j in answer["jobs"]
    )
    assert keys == sorted([("user-0", "access"), ("user-0", "delete"), ("user-1", "access")] * 2)
    assert {(j["product"]) for j in emulator.admin.jobs()} == {"analytics", "profileService"}
    assert all("userIDs" not in j["customer"]["user"] for j in answer["jobs"])


def test_consent_is_accepted_without_a_body(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    body = {
        "optOutOfSale": True,
        "entities": [
            {"nameSpace": "email", "values": ["a@x.io", "b@x.io"]},
            {"nameSpace": "ECID", "values": ["443636576799758681021090721276"]},
        ],
    }
    answer = http.post(f"{PRIVACY}/consent", json=body, headers=headers)
    assert (answer.status_code, answer.content) == (202, b"")
    assert emulator.admin.consents() == [
        {"orgId": emulator.client.org_id, "requests": 1, "entities": 2, "identities": 3}
    ]
    bad = http.post(
        f"{PRIVACY}/consent", json={"optOutOfSale": True, "entities": []}, headers=headers
    )
    assert bad.status_code == 400
