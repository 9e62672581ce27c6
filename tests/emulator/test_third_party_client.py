"""An existing client of these APIs, unmodified apart from its base URLs: Adobe's ``aepp``.

Install it without its heavy dependencies (its hygiene and privacyservice
modules only need requests)::

    .venv/bin/pip install --no-deps aepp
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.emulator.testing import RunningEmulator, running_emulator

aepp = pytest.importorskip("aepp", reason="aepp is not installed (pip install --no-deps aepp)")
hygiene = pytest.importorskip("aepp.hygiene")
privacyservice = pytest.importorskip("aepp.privacyservice")


@pytest.fixture
def configured() -> Iterator[RunningEmulator]:
    with running_emulator() as emu:
        c = emu.client
        aepp.configure(
            org_id=c.org_id,
            client_id=c.client_id,
            secret=c.client_secret,
            scopes="openid,AdobeID,read_organizations",
            sandbox="prod",
            retry=0,
        )
        # The only change: base URLs (aepp hard-codes Adobe's hosts for "prod").
        aepp.config.endpoints["global"] = emu.url
        aepp.config.config_object["imsEndpoint"] = emu.url
        aepp.config.config_object["oauthTokenEndpointV2"] = f"{emu.url}/ims/token/v3"
        yield emu


def test_aepp_work_orders(configured: RunningEmulator) -> None:
    client = hygiene.Hygiene()
    ids = [{"namespace": {"code": "email"}, "IDs": ["a@example.com", "b@example.com"]}]
    created: dict[str, Any] = client.createRecordDeleteRequest(
        datasetId="c48b51623ec641a2949d339bad69cb15",
        name="aepp request",
        namespacesIdentities=ids,
        description="made by aepp",
    )
    wid = created["workorderId"]
    assert wid.startswith("DI-") and created["status"] == "received"
    assert client.getWorkOrderStatus(wid)["displayName"] == "aepp request"
    updated = client.updateWorkOrder(wid, name="renamed by aepp", description="edited")
    assert (updated["displayName"], updated["description"]) == ("renamed by aepp", "edited")
    for i in range(3):
        client.createRecordDeleteRequest(
            datasetId="ALL", name=f"more {i}", namespacesIdentities=ids, description="x"
        )
    # aepp pages while a "next" link exists: the emulator sends none on the last page.
    listed = client.getWorkOrders(limit=2)
    assert len(listed) == 4
    quotas = {q["name"]: q["consumed"] for q in client.getQuotas()}
    assert quotas["dailyConsumerDeleteIdentitiesQuota"] == 8
    assert len(configured.admin.workorders()) == 4


def test_aepp_privacy_jobs(configured: RunningEmulator) -> None:
    client = privacyservice.Privacy()
    payload = dict(privacyservice.Privacy.SAMPLE_PAYLOAD)
    payload["companyContexts"] = [{"namespace": "imsOrgID", "value": configured.client.org_id}]
    created = client.postJob(payload)
    assert created["totalRecords"] == 6  # 3 user actions x 2 products
    job_id = created["jobs"][0]["jobId"]
    assert client.getJob(job_id)["jobId"] == job_id
    listed = client.getJobs(regulation="ccpa")
    assert listed["totalRecords"] == 6
