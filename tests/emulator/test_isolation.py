"""Organisations and sandboxes never see or change each other's objects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator.config import ClientConfig, EmulatorConfig
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body

A = ClientConfig("client-a", "secret-a", "ORGA0000000000000000000@AdobeOrg", "A")
B = ClientConfig("client-b", "secret-b", "ORGB0000000000000000000@AdobeOrg", "B")


@pytest.fixture(scope="module")
def two_orgs() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(clients=(A, B))) as emu:
        yield emu


@pytest.fixture
def emu(two_orgs: RunningEmulator) -> RunningEmulator:
    two_orgs.admin.reset()
    return two_orgs


def test_orgs_are_isolated(emu: RunningEmulator) -> None:
    a, b = emu.headers(client=A), emu.headers(client=B)
    with httpx.Client(base_url=emu.url) as http:
        order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=a).json()
        url = f"{HYGIENE}/workorder/{order['workorderId']}"
        assert http.get(url, headers=b).status_code == 404
        assert http.put(url, json={"description": "hijack"}, headers=b).status_code == 404
        assert http.get(f"{HYGIENE}/workorder", headers=b).json()["total"] == 0
        star = http.get(f"{HYGIENE}/workorder?sandboxName=*", headers=b).json()
        assert star["total"] == 0
        assert http.get(url, headers=a).json()["description"] == order["description"]

        job = http.post(f"{PRIVACY}/jobs", json=job_body(A.org_id), headers=a).json()
        job_id = job["jobs"][0]["jobId"]
        assert http.get(f"{PRIVACY}/jobs/{job_id}", headers=b).status_code == 404
        listed = http.get(f"{PRIVACY}/jobs?regulation=gdpr", headers=b).json()
        assert listed["totalRecords"] == 0
        # A job claiming another org in companyContexts is refused.
        assert http.post(f"{PRIVACY}/jobs", json=job_body(A.org_id), headers=b).status_code == 400

        quota_b = http.get(f"{HYGIENE}/quota", headers=b).json()["quotas"]
        assert all(q["consumed"] == 0 for q in quota_b)
    assert {w["orgId"] for w in emu.admin.workorders()} == {A.org_id}
    assert emu.admin.workorders(org_id=B.org_id) == []


def test_sandboxes_are_isolated(emu: RunningEmulator) -> None:
    prod, dev = emu.headers("prod", client=A), emu.headers("dev", client=A)
    with httpx.Client(base_url=emu.url) as http:
        order = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=prod).json()
        http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=dev)
        url = f"{HYGIENE}/workorder/{order['workorderId']}"
        assert http.get(url, headers=dev).status_code == 404
        assert http.put(url, json={"description": "x"}, headers=dev).status_code == 404
        assert http.get(f"{HYGIENE}/workorder", headers=dev).json()["total"] == 1
        assert http.get(f"{HYGIENE}/workorder?sandboxName=*", headers=dev).json()["total"] == 2
        named = http.get(f"{HYGIENE}/workorder?sandboxName=prod", headers=dev).json()
        assert [r["workorderId"] for r in named["results"]] == [order["workorderId"]]
    assert {w["sandbox"] for w in emu.admin.workorders()} == {"prod", "dev"}
    assert len(emu.admin.workorders(sandbox="dev")) == 1
