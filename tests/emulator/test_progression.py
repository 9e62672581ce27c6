"""Status progression on the emulator clock: work orders and privacy jobs."""

from __future__ import annotations

import httpx

from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body


def test_workorder_statuses(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    url = f"{HYGIENE}/workorder/{order['workorderId']}"
    seen = []
    for step in (0, 300, 600, 2700, 10800):
        emulator.admin.advance(step)
        seen.append(http.get(url, headers=headers).json())
    assert [s["status"] for s in seen] == [
        "received",
        "validated",
        "submitted",
        "ingested",
        "completed",
    ]
    assert ["productStatusDetails" in s for s in seen] == [False, False, True, True, True]
    ingested = {p["productName"]: p["productStatus"] for p in seen[3]["productStatusDetails"]}
    assert ingested["Data Management"] == "success"
    assert ingested["Profile Service"] == "waiting"
    assert {p["productStatus"] for p in seen[4]["productStatusDetails"]} == {"success"}
    stamps = [s["updatedAt"] for s in seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    assert {s["createdAt"] for s in seen} == {order["createdAt"]}
    assert {s["createdBy"] for s in seen} == {order["createdBy"]}


def test_unknown_dataset_fails_at_validation(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    body = workorder_body(datasetId="0123456789abcdef0123456789abcdef")
    order = http.post(f"{HYGIENE}/workorder", json=body, headers=headers).json()
    assert order["status"] == "received"
    assert "datasetName" not in order
    emulator.admin.advance(300)
    failed = http.get(f"{HYGIENE}/workorder/{order['workorderId']}", headers=headers).json()
    assert failed["status"] == "failed"
    assert "productStatusDetails" not in failed
    emulator.admin.advance(10 * 3600)
    later = http.get(f"{HYGIENE}/workorder/{order['workorderId']}", headers=headers).json()
    assert later["status"] == "failed"


def test_configured_dataset_gets_its_name(http: httpx.Client, headers: dict[str, str]) -> None:
    order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers).json()
    assert order["datasetName"] == "Example_Consumer_Dataset"


def test_privacy_job_statuses(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    created = http.post(
        f"{PRIVACY}/jobs", json=job_body(emulator.client.org_id), headers=headers
    ).json()
    url = f"{PRIVACY}/jobs/{created['jobs'][0]['jobId']}"
    seen = []
    for step in (0, 600, 3000):
        emulator.admin.advance(step)
        seen.append(http.get(url, headers=headers).json())
    assert [s["status"] for s in seen] == ["submitted", "processing", "complete"]
    assert [len(s["productResponses"]) for s in seen] == [0, 1, 1]
    done = seen[2]["productResponses"][0]
    assert done["product"] == "analytics"
    assert done["productStatusResponse"]["responseMsgCode"] == "6000-200"
    assert seen[2]["downloadUrl"].endswith("/content")
    assert seen[2]["regulation"] == "gdpr"
    assert "userIds" not in seen[2]
    assert seen[0]["createdDate"].endswith(" GMT")


def test_the_clock_can_run_faster(emulator: RunningEmulator) -> None:
    before = emulator.admin.clock()
    after = emulator.admin._call("POST", "/clock", {"speed": 3600})
    assert after["speed"] == 3600
    assert after["epoch"] >= before["epoch"]
