"""Privacy Service inputs the emulator once answered with a 500, and the access content route.

Every refusal is a 4xx with the Privacy Service error body the other routes send
(``{"error_code", "message"}``); nothing is stored for a refused request.
"""

from __future__ import annotations

import copy
import io
import json
import sqlite3
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.config import ClientConfig, EmulatorConfig
from reconciler.emulator.testing import RunningEmulator, running_emulator
from tests.emulator.conftest import PRIVACY, job_body

Body = dict[str, Any]
DAY = 86_400.0
COMPLETE = 3600.0  # JobSteps.complete: a job is complete an emulator hour after creation


def _assert_refused(answer: httpx.Response, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == f"{status}001"
    assert isinstance(body["message"], str) and body["message"]


def _change(edit: Callable[[Body], None]) -> Callable[[str], Body]:
    def build(org_id: str) -> Body:
        body = job_body(org_id)
        edit(body)
        return body

    return build


def _top(**changes: Any) -> Callable[[str], Body]:
    return _change(lambda body: body.update(copy.deepcopy(changes)))


def _user(**changes: Any) -> Callable[[str], Body]:
    return _change(lambda body: body["users"][0].update(copy.deepcopy(changes)))


def _uid(**changes: Any) -> Callable[[str], Body]:
    return _change(lambda body: body["users"][0]["userIDs"][0].update(copy.deepcopy(changes)))


def _drop(key: str) -> Callable[[str], Body]:
    return _change(lambda body: body.pop(key))


def _ids(count: int) -> list[Body]:
    return [{"namespace": "email", "value": f"u{i}@example.com"} for i in range(count)]


# -- 1. POST /jobs: every field of the body type-checked before use ----------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_top(regulation=["gdpr"]), id="regulation-list"),
        pytest.param(_top(regulation={"gdpr": 1}), id="regulation-object"),
        pytest.param(_top(regulation=1), id="regulation-number"),
        pytest.param(_top(regulation="GDPR-ish"), id="regulation-unknown"),
        pytest.param(_drop("regulation"), id="regulation-missing"),
        pytest.param(_uid(type=["standard"]), id="type-list"),
        pytest.param(_uid(type={"standard": True}), id="type-object"),
        pytest.param(_uid(type="email"), id="type-unknown"),
        pytest.param(_uid(namespace=["email"]), id="namespace-list"),
        pytest.param(_uid(value=7), id="value-number"),
        pytest.param(_uid(isDeletedClientSide="false"), id="deleted-string"),
        pytest.param(_uid(isDeletedClientSide=0), id="deleted-number"),
        pytest.param(_uid(namespaceId="6"), id="namespace-id-string"),
        pytest.param(_uid(namespaceId=True), id="namespace-id-boolean"),
        pytest.param(_uid(namespaceId=2**31), id="namespace-id-beyond-int32"),
        pytest.param(_user(userIDs=[]), id="user-ids-empty"),
        pytest.param(_user(userIDs=_ids(10)), id="user-ids-ten"),
        pytest.param(_user(userIDs=[["email", "a@example.com"]]), id="user-id-list"),
        pytest.param(_user(userIDs={"namespace": "email"}), id="user-ids-object"),
        pytest.param(_user(key=5), id="key-number"),
        pytest.param(_user(key=["user-0"]), id="key-list"),
        pytest.param(_user(action="access"), id="action-string"),
        pytest.param(_user(action=[{"access": 1}]), id="action-object"),
        pytest.param(_user(action=[["access"]]), id="action-nested"),
        pytest.param(_user(action=["access", "access"]), id="action-duplicate"),
        pytest.param(_user(action=[]), id="action-empty"),
        pytest.param(_top(users=[["user-0"]]), id="user-list"),
        pytest.param(_top(users={"key": "user-0"}), id="users-object"),
        pytest.param(_top(include=["analytics", "analytics"]), id="include-duplicate"),
        pytest.param(_top(include=["analytics", "Analytics"]), id="include-duplicate-case"),
        pytest.param(_top(include=[1]), id="include-number"),
        pytest.param(_top(include=[["analytics"]]), id="include-nested"),
        pytest.param(_top(include="analytics"), id="include-string"),
        pytest.param(_top(include=[]), id="include-empty"),
        pytest.param(_top(expandIds=1), id="expand-ids-one"),
        pytest.param(_top(expandIds=0), id="expand-ids-zero"),
        pytest.param(_top(expandIds="yes"), id="expand-ids-yes"),
        pytest.param(_top(expandIds=None), id="expand-ids-null"),
        pytest.param(_top(priority=["low"]), id="priority-list"),
        pytest.param(_top(priority="high"), id="priority-unknown"),
        pytest.param(_top(analyticsDeleteMethod={"purge": True}), id="delete-method-object"),
        pytest.param(_top(analyticsDeleteMethod="shred"), id="delete-method-unknown"),
        pytest.param(_top(mergePolicyId=5), id="merge-policy-number"),
        pytest.param(_top(mergePolicyId=None), id="merge-policy-null"),
        pytest.param(_top(region=["nld"]), id="region-list"),
        pytest.param(_top(requestId=5), id="request-id-number"),
        pytest.param(_top(companyContexts=[]), id="contexts-empty"),
        pytest.param(_top(companyContexts={"namespace": "imsOrgID"}), id="contexts-object"),
        pytest.param(
            lambda org: job_body(org, companyContexts=[{"namespace": "imsOrgID", "value": org}, 5]),
            id="contexts-item-number",
        ),
        pytest.param(
            lambda org: job_body(org, companyContexts=[{"namespace": ["imsOrgID"], "value": org}]),
            id="contexts-namespace-list",
        ),
        pytest.param(
            lambda org: job_body(
                org,
                companyContexts=[{"namespace": "imsOrgID", "value": org}, {"namespace": "x"}],
            ),
            id="contexts-item-without-value",
        ),
    ],
)
def test_job_body_fields_are_type_checked(
    emulator: RunningEmulator,
    http: httpx.Client,
    headers: dict[str, str],
    build: Callable[[str], Body],
) -> None:
    answer = http.post(f"{PRIVACY}/jobs", json=build(emulator.client.org_id), headers=headers)
    _assert_refused(answer)
    assert emulator.admin.jobs() == []


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_top(expandIds=True), id="expand-ids-true"),
        pytest.param(_top(expandIds=False), id="expand-ids-false"),
        pytest.param(_top(expandIds="true"), id="expand-ids-string-true"),
        pytest.param(_top(expandIds="false"), id="expand-ids-string-false"),
        pytest.param(_top(priority="low", analyticsDeleteMethod="purge"), id="options"),
        pytest.param(_top(mergePolicyId="policy-1", region="nld"), id="strings"),
        pytest.param(_top(requestId="my-request-1"), id="request-id"),
        pytest.param(_top(include=["Analytics", "target"]), id="include-two"),
        pytest.param(_uid(namespaceId=6, isDeletedClientSide=True), id="user-id-extras"),
        pytest.param(_user(userIDs=_ids(9)), id="user-ids-nine"),
        pytest.param(_user(action=["access", "delete"]), id="both-actions"),
    ],
)
def test_well_typed_job_bodies_are_accepted(
    emulator: RunningEmulator,
    http: httpx.Client,
    headers: dict[str, str],
    build: Callable[[str], Body],
) -> None:
    answer = http.post(f"{PRIVACY}/jobs", json=build(emulator.client.org_id), headers=headers)
    assert answer.status_code == 202, answer.text


# -- 2. GET /jobs: bounded, strict dates; page and size as the gateway reads integers -------


def _today(emulator: RunningEmulator) -> date:
    return date.fromisoformat(emulator.admin.clock()["now"][:10])


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("toDate=0001-01-01", id="to-year-one"),
        pytest.param("toDate=0001-01-07", id="to-year-one-week"),
        pytest.param("fromDate=0001-01-01&toDate=0001-01-02", id="window-year-one"),
        pytest.param("filterDate=0001-01-01", id="filter-year-one"),
        pytest.param("fromDate=0000-12-31", id="from-year-zero"),
        pytest.param("filterDate=9999-12-31", id="filter-far-future"),
        pytest.param("fromDate=9999-12-30&toDate=9999-12-31", id="window-far-future"),
        pytest.param("toDate=9999-12-31", id="to-far-future"),
        pytest.param("filterDate=2026-11-01x", id="filter-trailing-garbage"),
        pytest.param("filterDate=2026-11-01T00:00", id="filter-with-time"),
        pytest.param("filterDate=20261101", id="filter-basic-format"),
        pytest.param("fromDate=2026-W45-1", id="from-week-date"),
        pytest.param("filterDate=2026-11-01%0A", id="filter-trailing-newline"),
        pytest.param("filterDate=%EF%BC%92026-11-01", id="filter-fullwidth-digit"),
        pytest.param("filterDate=2026-02-30", id="filter-no-such-day"),
        pytest.param("page=%EF%BC%91", id="page-fullwidth"),
        pytest.param("size=%D9%A1", id="size-arabic-indic"),
        pytest.param("size=1_0", id="size-underscore"),
        pytest.param("size=%201%20", id="size-spaces"),
        pytest.param("size=+1", id="size-plus"),
        pytest.param("page=-1", id="page-negative"),
        pytest.param("size=0", id="size-zero"),
        pytest.param("size=1001", id="size-too-large"),
        pytest.param("page=99999999999999999999", id="page-huge"),
    ],
)
def test_job_query_is_bounded(http: httpx.Client, headers: dict[str, str], query: str) -> None:
    _assert_refused(http.get(f"{PRIVACY}/jobs?regulation=gdpr&{query}", headers=headers))


@pytest.mark.parametrize(
    ("key", "days_ago"),
    [
        pytest.param("filterDate", 61, id="filter"),
        pytest.param("fromDate", 61, id="from"),
        pytest.param("toDate", 61, id="to"),
        pytest.param("filterDate", -367, id="filter-over-a-year-ahead"),
    ],
)
def test_dates_are_bounded(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str], key: str, days_ago: int
) -> None:
    day = _today(emulator) - timedelta(days=days_ago)
    _assert_refused(
        http.get(f"{PRIVACY}/jobs?regulation=gdpr&{key}={day.isoformat()}", headers=headers)
    )


def test_dates_within_the_window_list_jobs(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    http.post(f"{PRIVACY}/jobs", json=job_body(emulator.client.org_id, count=3), headers=headers)
    today = _today(emulator)
    early = (today - timedelta(days=59)).isoformat()

    def listed(query: str) -> int:
        answer = http.get(f"{PRIVACY}/jobs?regulation=gdpr&{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["totalRecords"])

    assert listed(f"filterDate={today.isoformat()}") == 3
    assert listed(f"filterDate={early}") == 0
    assert listed(f"fromDate={early}&toDate={(today - timedelta(days=30)).isoformat()}") == 0
    assert listed(f"toDate={(today + timedelta(days=1)).isoformat()}") == 3
    assert listed("page=0&size=1000") == 3
    assert listed("page=&size=") == 3  # empty means the default, as before


# -- 3. POST /consent: optional ids are strings; values unique ---------------------------

CONSENT: Body = {"optOutOfSale": True, "entities": [{"nameSpace": "email", "values": ["a@b.co"]}]}


@pytest.mark.parametrize("key", ["orgId", "requestId", "transactionId"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(5, id="number"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="null"),
        pytest.param(["x"], id="list"),
        pytest.param({"x": 1}, id="object"),
    ],
)
def test_consent_ids_must_be_strings(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str], key: str, value: Any
) -> None:
    _assert_refused(http.post(f"{PRIVACY}/consent", json={**CONSENT, key: value}, headers=headers))
    assert emulator.admin.consents() == []


@pytest.mark.parametrize(
    "entities",
    [
        pytest.param([{"nameSpace": "email", "values": ["a@b.co", "a@b.co"]}], id="duplicate"),
        pytest.param([{"nameSpace": ["email"], "values": ["a@b.co"]}], id="namespace-list"),
        pytest.param([{"nameSpace": "email", "values": [["a@b.co"]]}], id="value-list"),
        pytest.param({"nameSpace": "email", "values": ["a@b.co"]}, id="entities-object"),
    ],
)
def test_consent_entities_are_checked(
    http: httpx.Client, headers: dict[str, str], entities: Any
) -> None:
    body = {**CONSENT, "entities": entities}
    _assert_refused(http.post(f"{PRIVACY}/consent", json=body, headers=headers))


def test_consent_with_every_optional_id_is_accepted(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    body = {**CONSENT, "orgId": "ORG@AdobeOrg", "requestId": "r-1", "transactionId": "t-1"}
    answer = http.post(f"{PRIVACY}/consent", json=body, headers=headers)
    assert (answer.status_code, answer.content) == (202, b"")


# -- 4. GET /jobs/{JOB_ID}/content: the access job's ZIP ------------------------------

# As the appendix spells them today: the archive names its folders by product code.
PRODUCTS = ["analytics", "audienceManager", "target"]
SUBJECT: Body = {
    "key": "subject-1",
    "action": ["access", "delete"],
    "userIDs": [
        {"namespace": "email", "value": "dsmith@example.com", "type": "standard"},
        {"namespace": "ECID", "value": "443636576799758681021090721276", "type": "standard"},
    ],
}


def _create(http: httpx.Client, headers: dict[str, str], org_id: str) -> dict[str, list[str]]:
    """Job ids by action for ``SUBJECT`` across ``PRODUCTS``."""
    body = job_body(org_id, users=[SUBJECT], include=PRODUCTS)
    answer = http.post(f"{PRIVACY}/jobs", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    ids: dict[str, list[str]] = {"access": [], "delete": []}
    for job in answer.json()["jobs"]:
        ids[job["customer"]["user"]["action"][0]].append(job["jobId"])
    return ids


@pytest.fixture
def download(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client for 200 downloads only. The spec's 200 for this path declares ``content: {}``
    while its description says a ZIP is returned, so the ``http`` fixture's check (no payload
    where no media type is declared) would refuse the archive; errors still go through it."""
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def _content(client: httpx.Client, headers: dict[str, str], job_id: str) -> httpx.Response:
    return client.get(f"{PRIVACY}/jobs/{job_id}/content", headers=headers)


def test_a_complete_access_job_has_a_zip_per_product(
    emulator: RunningEmulator,
    http: httpx.Client,
    download: httpx.Client,
    headers: dict[str, str],
) -> None:
    ids = _create(http, headers, emulator.client.org_id)
    job_id = ids["access"][0]
    _assert_refused(_content(http, headers, job_id), 404)  # submitted
    emulator.admin.advance(600)
    _assert_refused(_content(http, headers, job_id), 404)  # processing
    emulator.admin.advance(COMPLETE - 600)
    detail = http.get(f"{PRIVACY}/jobs/{job_id}", headers=headers).json()
    assert detail["status"] == "complete"
    assert detail["downloadUrl"] == f"{emulator.url}{PRIVACY}/jobs/{job_id}/content"

    first = _content(download, headers, job_id)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
        assert archive.testzip() is None
        files = [n for n in archive.namelist() if not n.endswith("/")]
        assert sorted({n.split("/")[0] for n in archive.namelist()}) == sorted(PRODUCTS)
        assert len(files) == len(PRODUCTS)
        for name in files:
            data = json.loads(archive.read(name))
            assert data["product"] == name.split("/")[0]
            assert data["userKey"] == SUBJECT["key"]
            submitted = {(u["namespace"], u["value"]) for u in SUBJECT["userIDs"]}
            assert {(r["namespace"], r["value"]) for r in data["identities"]} == submitted
    assert _content(download, headers, job_id).content == first.content  # same bytes again


def test_content_is_gone_sixty_days_after_completion(
    emulator: RunningEmulator,
    http: httpx.Client,
    download: httpx.Client,
    headers: dict[str, str],
) -> None:
    job_id = _create(http, headers, emulator.client.org_id)["access"][0]
    emulator.admin.advance(COMPLETE)
    emulator.admin.advance(60 * DAY - 60)
    assert _content(download, headers, job_id).status_code == 200
    emulator.admin.advance(61)
    _assert_refused(_content(http, headers, job_id), 404)


def test_content_refusals(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    ids = _create(http, headers, emulator.client.org_id)
    emulator.admin.advance(COMPLETE)
    _assert_refused(_content(http, headers, ids["delete"][0]), 404)  # delete-only
    _assert_refused(_content(http, headers, "0f3c2a9e-0000-4000-8000-000000000000"), 404)
    url = f"{PRIVACY}/jobs/{ids['access'][0]}/content"
    missing = http.get(url)
    assert (missing.status_code, missing.json()["error_code"]) == (403, "403010")
    bad = http.get(url, headers={**headers, "Authorization": "Bearer nope"})
    assert (bad.status_code, bad.json()["error_code"]) == (401, "401013")


A = ClientConfig("client-a", "secret-a", "ORGA0000000000000000000@AdobeOrg", "A")
B = ClientConfig("client-b", "secret-b", "ORGB0000000000000000000@AdobeOrg", "B")


@pytest.fixture(scope="module")
def two_orgs() -> Iterator[RunningEmulator]:
    with running_emulator(EmulatorConfig(clients=(A, B))) as emu:
        yield emu


def test_another_orgs_content_is_not_found(two_orgs: RunningEmulator) -> None:
    two_orgs.admin.reset()
    a, b = two_orgs.headers(None, client=A), two_orgs.headers(None, client=B)
    with httpx.Client(base_url=two_orgs.url, timeout=30) as client:
        job_id = _create(client, a, A.org_id)["access"][0]
        two_orgs.admin.advance(COMPLETE)
        assert _content(client, a, job_id).status_code == 200
        theirs = _content(client, b, job_id)
        unknown = _content(client, b, "0f3c2a9e-0000-4000-8000-000000000000")
    _assert_refused(theirs, 404)
    # No leak: the answer is the unknown job's, but for the id in the message.
    assert theirs.json()["message"].replace(job_id, "ID") == unknown.json()["message"].replace(
        "0f3c2a9e-0000-4000-8000-000000000000", "ID"
    )


def test_a_job_stored_before_products_were_has_content(tmp_path: Path) -> None:
    """A database written before jobs kept their request's products gains the column; such a
    job's archive holds its own product."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE privacy_jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " job_id TEXT UNIQUE NOT NULL, request_id TEXT NOT NULL, org_id TEXT NOT NULL,"
        " user_key TEXT NOT NULL, action TEXT NOT NULL, product TEXT NOT NULL,"
        " regulation TEXT NOT NULL, submitted_by TEXT NOT NULL, created_at REAL NOT NULL,"
        " user_ids TEXT NOT NULL)"
    )
    ids = [{"namespace": "email", "value": "old@example.com", "type": "standard"}]
    old.execute(
        "INSERT INTO privacy_jobs (job_id, request_id, org_id, user_key, action, product,"
        " regulation, submitted_by, created_at, user_ids)"
        " VALUES ('job-1', 'r', ?, 'old-user', 'access', 'target', 'gdpr', 'me', ?, ?)",
        (A.org_id, time.time() - 2 * COMPLETE, json.dumps(ids)),
    )
    old.commit()
    old.close()
    with (
        running_emulator(EmulatorConfig(clients=(A,)), db=path) as emu,
        httpx.Client(base_url=emu.url, timeout=30) as client,
    ):
        answer = _content(client, emu.headers(None, client=A), "job-1")
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.namelist() == ["target/", "target/target.json"]
        assert json.loads(archive.read("target/target.json"))["userKey"] == "old-user"


@pytest.mark.parametrize("suffix", ["", "/content"], ids=["job", "content"])
def test_a_long_job_id_is_not_echoed_back(
    http: httpx.Client, headers: dict[str, str], suffix: str
) -> None:
    answer = http.get(f"{PRIVACY}/jobs/{'x' * 20_000}{suffix}", headers=headers)
    assert answer.status_code == 404
    assert len(answer.json()["message"]) < 200
