"""GET /ttl over real HTTP: paging fields, order, filters and refused queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.ttl_helpers import CONFIG, DATASETS, TTL, created, detail


@pytest.fixture(scope="module")
def ttl_emulator() -> Iterator[RunningEmulator]:
    with running_emulator(CONFIG) as emu:
        yield emu


@pytest.fixture
def emulator(ttl_emulator: RunningEmulator) -> RunningEmulator:
    """This module's emulator (more datasets, completion 2 h after the expiry), reset."""
    ttl_emulator.admin.reset()
    return ttl_emulator


def test_list_pages(emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]) -> None:
    made = [created(http, headers, dataset=i)["ttlId"] for i in range(7)]
    pages = [
        http.get(TTL, params={"limit": 3, "page": p}, headers=headers).json() for p in range(3)
    ]
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert [p["current_page"] for p in pages] == [0, 1, 2]
    assert {(p["total_pages"], p["total_count"]) for p in pages} == {(3, 7)}
    assert [r["ttlId"] for p in pages for r in p["results"]] == made[::-1]  # newest first
    beyond = http.get(TTL, params={"limit": 3, "page": 9}, headers=headers).json()
    assert beyond == {"results": [], "current_page": 9, "total_pages": 3, "total_count": 7}
    assert http.get(TTL, headers=headers).json()["total_count"] == 7  # default limit 25
    none = http.get(TTL, params={"status": "completed"}, headers=headers).json()
    assert none == {"results": [], "current_page": 0, "total_pages": 0, "total_count": 0}


@pytest.fixture
def three(http: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Two pending expirations and a cancelled one, with distinct names and expiries."""
    named = (
        ("2031-01-01", "Quarterly purge", "JIRA-1 retention"),
        ("2031-06-15T12:00:00Z", "Annual purge", "JIRA-2"),
        ("2032-01-01", "Other", "nothing"),
    )
    a, b, c = (
        created(http, headers, dataset=i, expiry=expiry, displayName=name, description=text)
        for i, (expiry, name, text) in enumerate(named)
    )
    assert http.delete(f"{TTL}/{c['ttlId']}", headers=headers).status_code == 200
    return [a, b, c]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"datasetId": DATASETS[1].id}, [1], id="datasetId"),
        pytest.param({"status": "pending"}, [1, 0], id="status"),
        pytest.param({"status": "cancelled,completed"}, [2], id="status-list"),
        pytest.param({"search": "PURGE"}, [1, 0], id="search-name"),
        pytest.param({"search": "jira-2"}, [1], id="search-description"),
        pytest.param({"search": "dataset_2"}, [2], id="search-dataset-name"),
        pytest.param({"search": "techacct"}, [2, 1, 0], id="search-author"),
        pytest.param({"displayName": "quarterly"}, [0], id="displayName"),
        pytest.param({"description": "jira"}, [1, 0], id="description"),
        pytest.param({"datasetName": "DATASET_1"}, [1], id="datasetName"),
        pytest.param({"author": "LIKE %techacct%"}, [2, 1, 0], id="author-like"),
        pytest.param({"author": "NOT LIKE %techacct%"}, [], id="author-not-like"),
        pytest.param({"expiryDate": "2031-06-15"}, [1], id="expiryDate"),
        pytest.param({"expiryFromDate": "2031-06-15"}, [2, 1], id="expiryFromDate"),
        pytest.param({"expiryToDate": "2031-06-15"}, [1, 0], id="expiryToDate"),
        pytest.param(
            {"expiryFromDate": "2031-02-01", "expiryToDate": "2031-12-31"}, [1], id="expiry-window"
        ),
        pytest.param({"updatedToDate": "2000-01-01"}, [], id="updatedToDate"),
        pytest.param({"updatedFromDate": "2000-01-01"}, [2, 1, 0], id="updatedFromDate"),
        pytest.param({"orgId": "ignored@AdobeOrg"}, [2, 1, 0], id="orgId-ignored"),
    ],
)
def test_list_filters(
    http: httpx.Client,
    headers: dict[str, str],
    three: list[dict[str, Any]],
    params: dict[str, str],
    expected: list[int],
) -> None:
    listed = http.get(TTL, params=params, headers=headers).json()
    assert [r["ttlId"] for r in listed["results"]] == [three[i]["ttlId"] for i in expected]
    assert listed["total_count"] == len(expected)


def test_list_by_id_and_update_day(
    http: httpx.Client, headers: dict[str, str], three: list[dict[str, Any]]
) -> None:
    for key in ("search", "ttlId"):
        by_id = http.get(TTL, params={key: three[0]["ttlId"]}, headers=headers).json()
        assert [r["ttlId"] for r in by_id["results"]] == [three[0]["ttlId"]]
    today = three[2]["updatedAt"][:10]
    on_day = http.get(TTL, params={"updatedDate": today}, headers=headers).json()
    assert on_day["total_count"] == 3


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "page=-1",
        "status=done",
        "status=Pending",  # statuses are case-sensitive (the spec's ttlStatus)
        "expiryDate=2031-13-01",
        "updatedFromDate=yesterday",
    ],
)
def test_bad_list_queries(http: httpx.Client, headers: dict[str, str], query: str) -> None:
    detail(http.get(f"{TTL}?{query}", headers=headers))
