"""``client.ttl`` against the real emulator over HTTP: the calls, the clock, lost answers,
refusals and paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from reconciler.adobe import (
    AdobeClient,
    AdobeConfig,
    ApiError,
    DatasetExpirationStatus,
    NotFoundError,
    OutcomeUnknownError,
)

testing = pytest.importorskip("reconciler.emulator.testing")
config = pytest.importorskip("reconciler.emulator.config")

DATASETS = tuple(
    config.DatasetConfig(f"{i:02d}{'cd' * 11}", f"Retained_{i}", "email") for i in range(6)
)


@pytest.fixture(scope="module")
def shared() -> Iterator[Any]:
    emulator_config = config.EmulatorConfig(
        datasets=config.DEFAULT_DATASETS + DATASETS,
        expiration_steps=config.ExpirationSteps(completed=3600),
    )
    with testing.running_emulator(emulator_config) as emu:
        yield emu


@pytest.fixture
def emulator(shared: Any) -> Any:
    shared.admin.reset()
    return shared


@pytest.fixture
def client(emulator: Any) -> Iterator[AdobeClient]:
    env = {**emulator.env(), "ADOBE_SANDBOX_NAME": "prod"}
    settings = AdobeConfig.from_env(env, backoff_base=0.01, requests_per_second=500.0)
    with AdobeClient(settings) as made:
        yield made


def emulator_now(emulator: Any) -> datetime:
    return datetime.fromtimestamp(emulator.admin.clock()["epoch"], UTC)


def test_round_trip(emulator: Any, client: AdobeClient) -> None:
    created = client.ttl.create_expiration(
        DATASETS[0].id, date(2031, 1, 1), "Retention", "jira-ttl-1"
    )
    assert created.ttl_id.startswith("SD-")
    assert (created.dataset_id, created.dataset_name) == (DATASETS[0].id, "Retained_0")
    assert created.status is DatasetExpirationStatus.PENDING
    assert created.expires_at == datetime(2031, 1, 1, tzinfo=UTC)
    assert created.sandbox_name == "prod"
    assert client.ttl.get_expiration(created.ttl_id) == created
    assert client.ttl.get_expiration(DATASETS[0].id) == created
    updated = client.ttl.update_expiration(
        created.ttl_id, expiry=datetime(2031, 6, 1, 12, tzinfo=UTC), display_name="Renamed"
    )
    assert (updated.display_name, updated.description) == ("Renamed", "jira-ttl-1")
    assert updated.expires_at == datetime(2031, 6, 1, 12, tzinfo=UTC)
    texts = client.ttl.update_expiration(created.ttl_id, expiry="2031-07-01T10:00:00+02:00")
    assert texts.expiry == "2031-07-01T08:00:00.000Z"
    found = client.ttl.list_expirations(search="jira-ttl-1")
    assert [e.ttl_id for e in found] == [created.ttl_id]
    (quota,) = client.hygiene.get_quota("datasetExpirationQuota")
    assert quota.consumed == 1
    cancelled = client.ttl.cancel_expiration(created.ttl_id)
    assert cancelled.status is DatasetExpirationStatus.CANCELLED
    assert client.ttl.cancel_expiration(created.ttl_id) == cancelled  # already so: returned
    assert client.hygiene.get_quota("datasetExpirationQuota")[0].consumed == 0


def test_refusals(emulator: Any, client: AdobeClient) -> None:
    soon = emulator_now(emulator) + timedelta(hours=23)
    with pytest.raises(ApiError) as caught:
        client.ttl.create_expiration(DATASETS[1].id, soon, "Too soon")
    assert (caught.value.status, caught.value.error_code) == (400, "HYGN-3102-400")
    assert caught.value.message is not None and "24 hours" in caught.value.message
    client.ttl.create_expiration(DATASETS[1].id, date(2031, 1, 1), "First")
    with pytest.raises(ApiError, match="one per dataset"):
        client.ttl.create_expiration(DATASETS[1].id, date(2032, 1, 1), "Second")
    with pytest.raises(NotFoundError):
        client.ttl.get_expiration("SD-00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        client.ttl.cancel_expiration(DATASETS[2].id)
    with pytest.raises(NotFoundError, match="not found"):
        client.ttl.create_expiration("ab" * 12, date(2031, 1, 1), "Unknown dataset")


def test_statuses_on_the_emulator_clock(emulator: Any, client: AdobeClient) -> None:
    expiry = (emulator_now(emulator) + timedelta(days=2)).replace(microsecond=0)
    created = client.ttl.create_expiration(DATASETS[3].id, expiry, "Soon")
    emulator.admin.advance((expiry - emulator_now(emulator)).total_seconds() + 5)
    executing = client.ttl.get_expiration(created.ttl_id)
    assert executing.status is DatasetExpirationStatus.EXECUTING
    assert executing.updated_at == expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with pytest.raises(ApiError, match="is executing: only a pending expiration can be updated"):
        client.ttl.update_expiration(created.ttl_id, description="late")
    with pytest.raises(ApiError, match="is executing"):
        client.ttl.cancel_expiration(created.ttl_id)
    emulator.admin.advance(3600)
    completed = client.ttl.get_expiration(DATASETS[3].id)
    assert completed.status is DatasetExpirationStatus.COMPLETED
    assert completed.status.is_final
    done = expiry + timedelta(hours=1)
    assert completed.updated_at == done.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_lost_create_is_unknown_and_found_by_its_dataset(
    emulator: Any, client: AdobeClient
) -> None:
    emulator.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 1})
    with pytest.raises(OutcomeUnknownError):
        client.ttl.create_expiration(DATASETS[4].id, date(2031, 1, 1), "Lost")
    emulator.admin.set_faults({})
    assert client.ttl.get_expiration(DATASETS[4].id).display_name == "Lost"
    assert len(emulator.admin.expirations()) == 1


def test_a_lost_cancel_is_confirmed(emulator: Any, client: AdobeClient) -> None:
    created = client.ttl.create_expiration(DATASETS[5].id, date(2031, 1, 1), "Cancel me")
    emulator.admin.set_faults({"write": {"drop_after_commit_rate": 1.0}, "seed": 1})
    # The first DELETE is applied and its answer cut off; the retry is refused (400, not
    # pending, so answered in full); the expiration is read back, cancelled.
    cancelled = client.ttl.cancel_expiration(created.ttl_id)
    assert cancelled.status is DatasetExpirationStatus.CANCELLED
    assert emulator.admin.counters()["total"]["drop_after_commit"] == 1
    methods = [e["method"] for e in emulator.admin.requests() if "/ttl/" in e["path"]]
    assert methods == ["DELETE", "DELETE", "GET"]


def test_every_page_is_read(emulator: Any, client: AdobeClient) -> None:
    made = {client.ttl.create_expiration(d.id, date(2031, 1, 1), "Paged").ttl_id for d in DATASETS}
    listed = client.ttl.list_expirations(limit=2)
    assert {e.ttl_id for e in listed} == made and len(listed) == len(DATASETS)
    pages = [e for e in emulator.admin.requests() if e["path"].endswith("/ttl")]
    assert [e["method"] for e in pages].count("GET") == 4  # three pages and an empty one
    assert client.ttl.list_expirations(dataset_id=DATASETS[2].id)[0].dataset_name == "Retained_2"
    assert client.ttl.list_expirations(status="cancelled") == []
