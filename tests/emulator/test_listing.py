"""GET /workorder and GET /jobs: paging, links, filters and sorting."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body


def _create(http: httpx.Client, headers: dict[str, str], count: int) -> list[dict[str, object]]:
    return [
        http.post(
            f"{HYGIENE}/workorder",
            json=workorder_body(
                displayName=f"Order {i}", description=f"request-{i} of JIRA-{i % 2}"
            ),
            headers=headers,
        ).json()
        for i in range(count)
    ]


def test_paging_and_links(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    created = _create(http, headers, 7)
    pages = [
        http.get(f"{HYGIENE}/workorder?limit=3&page={p}", headers=headers).json() for p in range(3)
    ]
    assert [p["count"] for p in pages] == [3, 3, 1]
    assert {p["total"] for p in pages} == {7}
    assert ["next" in p["_links"] for p in pages] == [True, True, False]
    assert all(p["_links"]["page"]["templated"] for p in pages)
    assert "page=1" in pages[0]["_links"]["next"]["href"]
    listed = [r["workorderId"] for p in pages for r in p["results"]]
    assert listed == [c["workorderId"] for c in reversed(created)]  # newest first
    beyond = http.get(f"{HYGIENE}/workorder?limit=3&page=5", headers=headers).json()
    assert (beyond["count"], beyond["total"], beyond["results"]) == (0, 7, [])
    default = http.get(f"{HYGIENE}/workorder", headers=headers).json()
    assert default["count"] == 7


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("search=jira-1", 2, id="search"),
        pytest.param("description=REQUEST-3", 1, id="description"),
        pytest.param("displayName=order 4", 1, id="displayName"),
        pytest.param("status=received", 5, id="status"),
        pytest.param("status=completed,failed", 0, id="status-list"),
        pytest.param("type=identity-delete", 5, id="type"),
        pytest.param("author=LIKE %techacct%", 5, id="author-like"),
        pytest.param("author=NOT LIKE %techacct%", 0, id="author-not-like"),
        pytest.param("fromDate=2000-01-01&toDate=2000-01-02", 0, id="date-range"),
        pytest.param("fromDate=2000-01-01&toDate=2999-01-01", 5, id="date-range-all"),
    ],
)
def test_filters(http: httpx.Client, headers: dict[str, str], query: str, expected: int) -> None:
    _create(http, headers, 5)
    answer = http.get(f"{HYGIENE}/workorder?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == expected


def test_filter_by_id_and_order(http: httpx.Client, headers: dict[str, str]) -> None:
    created = _create(http, headers, 3)
    wid = created[1]["workorderId"]
    one = http.get(f"{HYGIENE}/workorder?workorderId={wid}", headers=headers).json()
    assert [r["workorderId"] for r in one["results"]] == [wid]
    ordered = http.get(f"{HYGIENE}/workorder?orderBy=%2BdisplayName", headers=headers).json()
    assert [r["displayName"] for r in ordered["results"]] == ["Order 0", "Order 1", "Order 2"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "page=-1", "fromDate=2024-01-01", "status=Completed", "orderBy=nope"],
)
def test_bad_list_queries(http: httpx.Client, headers: dict[str, str], query: str) -> None:
    answer = http.get(f"{HYGIENE}/workorder?{query}", headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "400001"


def test_privacy_job_listing(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    org = emulator.client.org_id
    http.post(f"{PRIVACY}/jobs", json=job_body(org, count=5), headers=headers)
    http.post(f"{PRIVACY}/jobs", json=job_body(org, regulation="ccpa"), headers=headers)
    # The day the jobs were created, read before the clock moves on: an hour later may be
    # the next GMT day.
    day = emulator.admin.clock()["now"][:10]
    gdpr = http.get(f"{PRIVACY}/jobs?regulation=gdpr&size=2&page=0", headers=headers).json()
    assert gdpr["totalRecords"] == 5
    assert len(gdpr["jobDetails"]) == 2
    last = http.get(f"{PRIVACY}/jobs?regulation=gdpr&size=2&page=2", headers=headers).json()
    assert len(last["jobDetails"]) == 1
    assert http.get(f"{PRIVACY}/jobs?regulation=ccpa", headers=headers).json()["totalRecords"] == 1
    submitted = http.get(f"{PRIVACY}/jobs?regulation=gdpr&status=submitted", headers=headers)
    assert submitted.json()["totalRecords"] == 5
    emulator.admin.advance(3600)
    complete = http.get(f"{PRIVACY}/jobs?regulation=gdpr&status=complete", headers=headers)
    assert complete.json()["totalRecords"] == 5
    dated = http.get(
        f"{PRIVACY}/jobs?regulation=gdpr&fromDate={day}&toDate={day}", headers=headers
    ).json()
    assert dated["totalRecords"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "",
        "regulation=nope",
        "regulation=gdpr&size=1001",
        "regulation=gdpr&status=done",
        "regulation=gdpr&fromDate=2020-01-01&toDate=2020-03-01",
    ],
)
def test_bad_job_queries(http: httpx.Client, headers: dict[str, str], query: str) -> None:
    assert http.get(f"{PRIVACY}/jobs?{query}", headers=headers).status_code == 400


ALL_STATUSES = "received,validated,submitted,ingested,completed,failed"


@pytest.mark.parametrize(
    "order", [None, "+createdAt", "displayName", "-operationCount", "+id", "-updatedAt"]
)
def test_pages_cover_every_work_order_once_in_order(
    http: httpx.Client, headers: dict[str, str], order: str | None
) -> None:
    created = [
        http.post(
            f"{HYGIENE}/workorder",
            json=workorder_body(displayName=f"Order {i % 7}", description=f"[tag] {i}"),
            headers=headers,
        ).json()
        for i in range(230)
    ]
    extra = {} if order is None else {"orderBy": order}

    def pages(**params: str) -> list[str]:
        listed: list[str] = []
        for page in range(4):
            answer = http.get(
                f"{HYGIENE}/workorder",
                params={**extra, **params, "limit": 70, "page": page},
                headers=headers,
            ).json()
            assert answer["total"] == 230
            assert answer["count"] == len(answer["results"]) == (20 if page == 3 else 70)
            assert ("next" in answer["_links"]) == (page < 3)
            listed += [r["workorderId"] for r in answer["results"]]
        return listed

    listed = pages(search="[TAG]")
    assert sorted(listed) == sorted(c["workorderId"] for c in created)
    # A status filter that keeps everything takes the render-everything path: same pages.
    assert pages(search="[TAG]", status=ALL_STATUSES) == listed
    if order is None:  # the documented default: newest first
        assert listed == [c["workorderId"] for c in reversed(created)]
    if order == "displayName":  # no sign: ascending; equal names oldest first
        expected = sorted(created, key=lambda c: str(c["displayName"]))  # stable
        assert listed == [c["workorderId"] for c in expected]


def test_job_pages_cover_every_job_once(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    org = emulator.client.org_id
    http.post(f"{PRIVACY}/jobs", json=job_body(org, count=90), headers=headers)
    http.post(f"{PRIVACY}/jobs", json=job_body(org, count=40), headers=headers)
    everything = http.get(f"{PRIVACY}/jobs?regulation=gdpr&size=1000", headers=headers).json()
    assert everything["totalRecords"] == 130
    ids = [j["jobId"] for j in everything["jobDetails"]]
    assert [j["userKey"] for j in everything["jobDetails"][:40]] == [
        f"user-{i}" for i in reversed(range(40))
    ]
    paged: list[str] = []
    for page in range(3):
        answer = http.get(
            f"{PRIVACY}/jobs?regulation=gdpr&size=50&page={page}", headers=headers
        ).json()
        assert answer["totalRecords"] == 130
        paged += [j["jobId"] for j in answer["jobDetails"]]
    assert paged == ids
    by_status = http.get(
        f"{PRIVACY}/jobs?regulation=gdpr&size=1000&status=submitted", headers=headers
    ).json()
    assert [j["jobId"] for j in by_status["jobDetails"]] == ids
