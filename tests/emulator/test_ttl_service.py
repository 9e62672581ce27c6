"""Dataset expirations (``/ttl``) as a service: the quota, injected faults, org and sandbox
isolation, and state across a restart. Over real HTTP, every response checked against the
spec."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.config import ClientConfig, QuotaConfig
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import HYGIENE, checked_client
from tests.emulator.openapi import Specs
from tests.emulator.ttl_helpers import (
    COMPLETED_AFTER,
    CONFIG,
    DATASETS,
    DAY,
    TTL,
    clock,
    create,
    created,
    detail,
    stamp,
)

A = ClientConfig("client-a", "secret-a", "ORGA0000000000000000000@AdobeOrg", "A")
B = ClientConfig("client-b", "secret-b", "ORGB0000000000000000000@AdobeOrg", "B")


@pytest.fixture(scope="module")
def ttl_emulator() -> Iterator[RunningEmulator]:
    with running_emulator(CONFIG) as emu:
        yield emu


@pytest.fixture
def emulator(ttl_emulator: RunningEmulator) -> RunningEmulator:
    ttl_emulator.admin.reset()
    return ttl_emulator


def expiration_quota(http: httpx.Client, headers: dict[str, str]) -> tuple[int, int]:
    answer = http.get(f"{HYGIENE}/quota?quotaType=datasetExpirationQuota", headers=headers)
    (quota,) = answer.json()["quotas"]
    assert quota["name"] == "datasetExpirationQuota"
    return quota["consumed"], quota["quota"]


# -- the quota ------------------------------------------------------------------------


def test_the_quota_counts_active_expirations(specs: Specs) -> None:
    config = replace(CONFIG, quotas=QuotaConfig(dataset_expirations=2))
    with running_emulator(config) as emu, checked_client(emu.url, specs) as http:
        headers = emu.headers()
        assert expiration_quota(http, headers) == (0, 2)
        soon = created(http, headers, dataset=0, expiry=stamp(clock(emu) + DAY + 60))
        created(http, headers, dataset=1)
        assert expiration_quota(http, headers) == (2, 2)
        refused = detail(create(http, headers, dataset=2))
        assert refused == "Dataset expiration quota exceeded: 2 of 2 expirations are active."
        assert http.delete(f"{TTL}/{DATASETS[1].id}", headers=headers).status_code == 200
        assert expiration_quota(http, headers) == (1, 2)  # a cancelled one frees its place
        created(http, headers, dataset=2)
        emu.admin.advance(DAY + 120)
        assert http.get(f"{TTL}/{soon['ttlId']}", headers=headers).json()["status"] == "executing"
        assert expiration_quota(http, headers) == (2, 2)  # executing is still active
        emu.admin.advance(COMPLETED_AFTER)
        assert expiration_quota(http, headers) == (1, 2)  # a completed one frees it too
        everything = http.get(f"{HYGIENE}/quota", headers=headers).json()["quotas"]
        assert {q["name"]: q["consumed"] for q in everything}["datasetExpirationQuota"] == 1


# -- faults ---------------------------------------------------------------------------


def test_injected_errors_write_nothing(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    item = created(http, headers, dataset=0)
    url = f"{TTL}/{item['ttlId']}"
    emulator.admin.set_faults({"write": {"error_rate": 1}})
    statuses = {
        create(http, headers, dataset=1).status_code,
        http.put(url, json={"description": "changed"}, headers=headers).status_code,
        http.delete(url, headers=headers).status_code,
    }
    assert statuses <= {500, 502, 503}
    assert http.get(url, headers=headers).json() == item  # reads are another class
    assert emulator.admin.expirations() == [item]
    assert sum(emulator.admin.counters()["by_class"]["write"].values()) == 3


def test_throttling_and_latency(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"throttle_rate": 1, "retry_after": 4})
    throttled = http.get(TTL, headers=headers)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "4")
    assert create(http, headers).status_code == 429
    assert emulator.admin.expirations() == []
    emulator.admin.set_faults({"read": {"latency_ms": 5}})
    assert http.get(TTL, headers=headers).status_code == 200
    assert emulator.admin.counters()["total"] == {"throttle_429": 2, "latency": 1}


def test_answers_lost_after_the_write_committed(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"write": {"drop_after_commit_rate": 1}})
    with pytest.raises(httpx.TransportError):
        create(http, headers, dataset=0, description="lost create")
    (stored,) = emulator.admin.expirations()
    assert (stored["description"], stored["status"]) == ("lost create", "pending")
    with pytest.raises(httpx.TransportError):
        http.delete(f"{TTL}/{stored['ttlId']}", headers=headers)
    assert emulator.admin.expirations()[0]["status"] == "cancelled"
    # Refused: nothing committed, so the answer is not dropped.
    assert "is cancelled" in detail(http.delete(f"{TTL}/{stored['ttlId']}", headers=headers))
    assert emulator.admin.counters()["total"] == {"drop_after_commit": 2}


# -- isolation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_orgs() -> Iterator[RunningEmulator]:
    with running_emulator(replace(CONFIG, clients=(A, B))) as emu:
        yield emu


def test_orgs_are_isolated(two_orgs: RunningEmulator, specs: Specs) -> None:
    two_orgs.admin.reset()
    a, b = two_orgs.headers(client=A), two_orgs.headers(client=B)
    with checked_client(two_orgs.url, specs) as http:
        item = created(http, a, dataset=0)
        for ident in (item["ttlId"], DATASETS[0].id):
            assert http.get(f"{TTL}/{ident}", headers=b).status_code == 404
            assert http.delete(f"{TTL}/{ident}", headers=b).status_code == 404
        hijack = http.put(f"{TTL}/{item['ttlId']}", json={"description": "x"}, headers=b)
        assert hijack.status_code == 404
        assert http.get(TTL, headers=b).json()["total_count"] == 0
        assert expiration_quota(http, b) == (0, 75)
        assert expiration_quota(http, a) == (1, 75)
        # The same dataset id in another org is another org's dataset.
        assert created(http, b, dataset=0)["imsOrg"] == B.org_id
        assert http.get(f"{TTL}/{item['ttlId']}", headers=a).json() == item
    assert {e["imsOrg"] for e in two_orgs.admin.expirations(org_id=A.org_id)} == {A.org_id}


def test_sandboxes_are_isolated(two_orgs: RunningEmulator, specs: Specs) -> None:
    two_orgs.admin.reset()
    prod, dev = two_orgs.headers("prod", client=A), two_orgs.headers("dev", client=A)
    with checked_client(two_orgs.url, specs) as http:
        in_prod = created(http, prod, dataset=0)
        in_dev = created(http, dev, dataset=0)  # one per dataset and sandbox
        assert in_dev["sandboxName"] == "dev"
        assert http.get(f"{TTL}/{in_prod['ttlId']}", headers=dev).status_code == 404
        assert http.get(f"{TTL}/{DATASETS[0].id}", headers=dev).json() == in_dev
        assert [r["ttlId"] for r in http.get(TTL, headers=dev).json()["results"]] == [
            in_dev["ttlId"]
        ]
        assert http.delete(f"{TTL}/{in_prod['ttlId']}", headers=dev).status_code == 404
        # The guide's sandboxName: another sandbox of the org, or * for all of them.
        every = http.get(TTL, params={"sandboxName": "*"}, headers=dev).json()
        assert {r["ttlId"] for r in every["results"]} == {in_prod["ttlId"], in_dev["ttlId"]}
        named = http.get(TTL, params={"sandboxName": "prod"}, headers=dev).json()
        assert [r["ttlId"] for r in named["results"]] == [in_prod["ttlId"]]
        other_org = http.get(TTL, params={"sandboxName": "*"}, headers=two_orgs.headers(client=B))
        assert other_org.json()["total_count"] == 0
        assert expiration_quota(http, prod) == (2, 75)  # the quota is the org's
        missing = http.get(TTL, headers={k: v for k, v in prod.items() if k != "x-sandbox-name"})
        assert missing.json() == {"error_code": "400003", "message": "Missing header"}
    assert len(two_orgs.admin.expirations(sandbox="dev")) == 1


# -- persistence ----------------------------------------------------------------------


def test_expirations_survive_a_restart(tmp_path: Path, specs: Specs) -> None:
    db = tmp_path / "emulator.db"
    with running_emulator(CONFIG, db=db) as emu, checked_client(emu.url, specs) as http:
        headers = emu.headers()
        soon = created(http, headers, dataset=0, expiry=stamp(clock(emu) + DAY + 60))
        later = created(http, headers, dataset=1, description="kept")
        emu.admin.advance(DAY + 120)
        before = http.get(f"{TTL}/{soon['ttlId']}", headers=headers).json()
        assert before["status"] == "executing"
    with running_emulator(CONFIG, db=db) as emu, checked_client(emu.url, specs) as http:
        # The clock did not run back before what was stored: still executing.
        assert http.get(f"{TTL}/{soon['ttlId']}", headers=headers).json() == before
        assert http.get(f"{TTL}/{later['ttlId']}", headers=headers).json() == later
        assert "already has an expiration" in detail(create(http, headers, dataset=1))
        emu.admin.reset()
        assert emu.admin.expirations() == []
