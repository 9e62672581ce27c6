"""Listings against the real emulator over HTTP when its gateway pages short and lies about
totals: every object is found, or the call says the listing contradicts itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig, InvalidResponseError

testing = pytest.importorskip("reconciler.emulator.testing")
config = pytest.importorskip("reconciler.emulator.config")

WORKORDERS = "/data/core/hygiene/workorder"
JOBS = "/data/core/privacy/jobs"
TTL = "/data/core/hygiene/ttl"
DATASETS = tuple(
    config.DatasetConfig(f"{i:02d}{'ef' * 11}", f"Listed_{i}", "email") for i in range(5)
)


@pytest.fixture
def emulator() -> Iterator[Any]:
    emulator_config = config.EmulatorConfig(datasets=config.DEFAULT_DATASETS + DATASETS)
    with testing.running_emulator(emulator_config) as emu:
        yield emu


@pytest.fixture
def client(emulator: Any) -> Iterator[AdobeClient]:
    env = {**emulator.env(), "ADOBE_SANDBOX_NAME": "prod"}
    settings = AdobeConfig.from_env(env, backoff_base=0.01, requests_per_second=500.0)
    with AdobeClient(settings) as made:
        yield made


def make_work_orders(client: AdobeClient, n: int) -> set[str]:
    return {
        client.hygiene.create_work_order(
            dataset_id="ALL",
            display_name=f"Listed {i}",
            description=f"jira-listed-{i}",
            identities=[("email", f"listed-{i}@example.com")],
        ).workorder_id
        for i in range(n)
    }


def make_jobs(client: AdobeClient, n: int) -> set[str]:
    users = [
        {
            "key": f"req-{i}",
            "action": ["delete"],
            "userIDs": [{"namespace": "email", "value": f"subject-{i}@example.com"}],
        }
        for i in range(n)
    ]
    created = client.privacy.create_privacy_job(
        regulation="gdpr", users=users, include=["analytics"]
    )
    return {job.job_id for job in created.jobs}


def gets(emulator: Any, path: str) -> list[dict[str, Any]]:
    return [e for e in emulator.admin.requests() if e["method"] == "GET" and e["path"] == path]


def listing_gets(emulator: Any, path: str, since: int) -> int:
    return sum(1 for e in gets(emulator, path) if e["seq"] > since)


def last_seq(emulator: Any) -> int:
    entries = emulator.admin.requests()
    return int(entries[-1]["seq"]) if entries else 0


# --- no faults: one listing, one empty page more ---


def test_an_exact_work_order_listing_is_read_once(emulator: Any, client: AdobeClient) -> None:
    made = make_work_orders(client, 7)
    since = last_seq(emulator)
    found = client.hygiene.list_work_orders(limit=3)
    assert {o.workorder_id for o in found} == made and len(found) == 7
    assert listing_gets(emulator, WORKORDERS, since) == 4  # 3 + 3 + 1, and the empty page


def test_an_exact_privacy_listing_is_read_once(emulator: Any, client: AdobeClient) -> None:
    made = make_jobs(client, 3)
    since = last_seq(emulator)
    assert {j.job_id for j in client.privacy.list_privacy_jobs("gdpr")} == made
    assert listing_gets(emulator, JOBS, since) == 2


# --- short pages: every page is read, nothing missed ---


def test_short_work_order_pages_miss_nothing(emulator: Any, client: AdobeClient) -> None:
    made = make_work_orders(client, 7)
    emulator.admin.set_faults({"read": {"short_page_rate": 1.0}})
    since = last_seq(emulator)
    found = client.hygiene.list_work_orders(limit=4)  # answered 2 a page
    assert {o.workorder_id for o in found} == made and len(found) == 7
    assert listing_gets(emulator, WORKORDERS, since) == 5
    assert emulator.admin.counters()["total"]["short_page"] == 3


def test_short_privacy_pages_miss_nothing(emulator: Any, client: AdobeClient) -> None:
    made = make_jobs(client, 60)
    emulator.admin.set_faults({"read": {"short_page_rate": 1.0}})
    since = last_seq(emulator)
    # 50 a page where 100 were asked: a short first page is not the last one.
    found = client.privacy.list_privacy_jobs("gdpr")
    assert {j.job_id for j in found} == made and len(found) == 60
    assert listing_gets(emulator, JOBS, since) == 3


def test_short_expiration_pages_miss_nothing(emulator: Any, client: AdobeClient) -> None:
    made = {client.ttl.create_expiration(d.id, date(2031, 1, 1), "Listed").ttl_id for d in DATASETS}
    emulator.admin.set_faults({"read": {"short_page_rate": 1.0}})
    since = last_seq(emulator)
    found = client.ttl.list_expirations(limit=4)
    assert {e.ttl_id for e in found} == made and len(found) == 5
    assert listing_gets(emulator, TTL, since) == 4


# --- totals that lie on every page: refused ---

CONTRADICTION = (
    r"GET {path}: Adobe's listing contradicts itself: page \d+ told {field} \d+, \d+ {noun}"
    r" were listed.*, in 2 listings in a row; nothing was created because of it"
)


def test_work_order_totals_that_always_lie_are_refused(emulator: Any, client: AdobeClient) -> None:
    make_work_orders(client, 5)
    emulator.admin.set_faults({"read": {"lying_total_rate": 1.0}, "seed": 4})
    with pytest.raises(InvalidResponseError) as caught:
        client.hygiene.list_work_orders(limit=2)
    pattern = CONTRADICTION.format(path=WORKORDERS, field="total", noun="work orders")
    assert re.fullmatch(pattern, str(caught.value)), str(caught.value)
    assert "@example.com" not in str(caught.value)


def test_privacy_totals_that_always_lie_are_refused(emulator: Any, client: AdobeClient) -> None:
    make_jobs(client, 5)
    emulator.admin.set_faults({"read": {"lying_total_rate": 1.0}, "seed": 4})
    with pytest.raises(InvalidResponseError) as caught:
        client.privacy.list_privacy_jobs("gdpr")
    pattern = CONTRADICTION.format(path=JOBS, field="totalRecords", noun="privacy jobs")
    assert re.fullmatch(pattern, str(caught.value)), str(caught.value)


def test_expiration_totals_that_always_lie_are_refused(emulator: Any, client: AdobeClient) -> None:
    for d in DATASETS[:3]:
        client.ttl.create_expiration(d.id, date(2031, 1, 1), "Listed")
    emulator.admin.set_faults({"read": {"lying_total_rate": 1.0}, "seed": 4})
    with pytest.raises(InvalidResponseError) as caught:
        client.ttl.list_expirations(limit=2)
    pattern = CONTRADICTION.format(path=TTL, field="total_(count|pages)", noun="expirations")
    assert re.fullmatch(pattern, str(caught.value)), str(caught.value)


# --- a total that lies once: the second listing is believed ---

# A seed of the emulator's fault dice for which, at a rate of 0.3, one page of the first
# listing lies and none of the second (for both listings below: 5 items, 2 or 100 a page).
LIE_ONCE_SEED = 13


def test_a_lie_in_the_first_work_order_listing_is_read_past(
    emulator: Any, client: AdobeClient
) -> None:
    made = make_work_orders(client, 5)
    emulator.admin.set_faults({"read": {"lying_total_rate": 0.3}, "seed": LIE_ONCE_SEED})
    since = last_seq(emulator)
    found = client.hygiene.list_work_orders(limit=2)
    assert {o.workorder_id for o in found} == made and len(found) == 5
    assert emulator.admin.counters()["total"]["lying_total"] == 1
    listed = [e for e in gets(emulator, WORKORDERS) if e["seq"] > since]
    assert len(listed) > 4  # more than one listing of 3 pages and an empty one


def test_a_lie_in_the_first_privacy_listing_is_read_past(
    emulator: Any, client: AdobeClient
) -> None:
    made = make_jobs(client, 5)
    emulator.admin.set_faults({"read": {"lying_total_rate": 0.3}, "seed": LIE_ONCE_SEED})
    since = last_seq(emulator)
    found = client.privacy.list_privacy_jobs("gdpr")
    assert {j.job_id for j in found} == made
    assert emulator.admin.counters()["total"]["lying_total"] == 1
    assert listing_gets(emulator, JOBS, since) > 2
