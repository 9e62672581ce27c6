"""A gateway that lags, lies and loses answers: search lag, commit-then-error, lying totals,
short pages and reused ids, each seen on the wire with raw httpx while the admin API shows
what is really stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.config import DEFAULT_DATASETS, load_config
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, job_body, workorder_body

WORKORDERS = f"{HYGIENE}/workorder"
TTL = f"{HYGIENE}/ttl"
JOBS = f"{PRIVACY}/jobs"
CONSENT = {"optOutOfSale": True, "entities": [{"nameSpace": "email", "values": ["a@x.io"]}]}


def _create_workorder(http: httpx.Client, headers: dict[str, str], name: str) -> str:
    answer = http.post(WORKORDERS, json=workorder_body(displayName=name), headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["workorderId"])


def _expiration(dataset: int = 0) -> dict[str, Any]:
    return {"datasetId": DEFAULT_DATASETS[dataset].id, "expiry": "2031-01-01", "displayName": "E"}


def _listing(http: httpx.Client, path: str, headers: dict[str, str], **params: Any) -> Any:
    answer = http.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- search lag -----------------------------------------------------------------------


def test_search_lag_hides_a_new_work_order_from_the_list_but_not_by_id(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    older = _create_workorder(http, headers, "Older order")
    emulator.admin.advance(31)
    emulator.admin.set_faults({"read": {"search_lag_s": 30}})
    newer = _create_workorder(http, headers, "Newer order")

    listed = _listing(http, WORKORDERS, headers)
    assert [w["workorderId"] for w in listed["results"]] == [older]
    assert (listed["total"], listed["count"]) == (1, 1)
    assert _listing(http, WORKORDERS, headers, search="Newer")["total"] == 0
    assert _listing(http, WORKORDERS, headers, search=newer)["results"] == []
    # The status filter lists by rendering every match: it lags the same way.
    assert _listing(http, WORKORDERS, headers, status="received")["total"] == 1
    by_id = http.get(f"{WORKORDERS}/{newer}", headers=headers)
    assert by_id.status_code == 200
    assert by_id.json()["displayName"] == "Newer order"
    assert [w["workorderId"] for w in emulator.admin.workorders()] == [older, newer]

    emulator.admin.advance(31)
    listed = _listing(http, WORKORDERS, headers)
    assert [w["workorderId"] for w in listed["results"]] == [newer, older]
    assert listed["total"] == 2
    assert _listing(http, WORKORDERS, headers, search="Newer")["total"] == 1
    # Four listings hid the newer order; the last two hid nothing.
    assert emulator.admin.counters()["by_class"]["read"] == {"search_lag": 4}
    faults = [e["fault"] for e in emulator.admin.requests() if e["path"] == WORKORDERS]
    assert faults[-6:] == ["search_lag"] * 4 + [None, None]


def test_search_lag_hides_a_new_expiration_but_not_privacy_jobs(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"search_lag_s": 30})
    created = http.post(TTL, json=_expiration(), headers=headers)
    assert created.status_code == 201
    ttl_id = created.json()["ttlId"]
    listed = _listing(http, TTL, headers)
    assert (listed["results"], listed["total_count"], listed["total_pages"]) == ([], 0, 0)
    assert http.get(f"{TTL}/{ttl_id}", headers=headers).status_code == 200
    assert http.get(f"{TTL}/{DEFAULT_DATASETS[0].id}", headers=headers).status_code == 200
    # A second expiration for the dataset is refused: the write side sees the lagged one.
    assert http.post(TTL, json=_expiration(), headers=headers).status_code == 400
    job = http.post(JOBS, json=job_body(emulator.client.org_id), headers=headers)
    assert job.status_code == 202
    assert _listing(http, JOBS, headers, regulation="gdpr")["totalRecords"] == 1

    emulator.admin.advance(31)
    listed = _listing(http, TTL, headers)
    assert [e["ttlId"] for e in listed["results"]] == [ttl_id]
    assert listed["total_count"] == 1
    assert emulator.admin.counters()["total"] == {"search_lag": 1}


# -- commit then error ----------------------------------------------------------------


def test_a_committed_work_order_answered_429_is_duplicated_by_a_resend(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults(
        {"write": {"commit_then_error_rate": 1, "commit_then_statuses": [429], "retry_after": 3}}
    )
    for _ in range(2):  # a client that takes 429 for "not processed" sends it again
        answer = http.post(WORKORDERS, json=workorder_body(description="twice"), headers=headers)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"
        assert answer.json() == {"error_code": "429050", "message": "Too many requests"}
    stored = emulator.admin.workorders()
    assert [w["description"] for w in stored] == ["twice", "twice"]
    assert stored[0]["workorderId"] != stored[1]["workorderId"]
    refused = http.post(WORKORDERS, json={}, headers=headers)
    assert refused.status_code == 400  # nothing committed: answered as it is
    assert emulator.admin.counters()["by_class"]["write"] == {"commit_then_429": 2}
    log = [(e["status"], e["fault"]) for e in emulator.admin.requests() if e["method"] == "POST"]
    assert log[-3:] == [(429, "commit_then_429"), (429, "commit_then_429"), (400, None)]


def test_committed_jobs_expirations_and_consents_answered_401(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"commit_then_error_rate": 1, "commit_then_statuses": [401]})
    answers = [
        http.post(JOBS, json=job_body(emulator.client.org_id, count=2), headers=headers),
        http.post(TTL, json=_expiration(1), headers=headers),
        http.post(f"{PRIVACY}/consent", json=CONSENT, headers=headers),
        http.put(f"{TTL}/no-such-id", json={"displayName": "x"}, headers=headers),
    ]
    invalid_token = {"error_code": "401013", "message": "Oauth token is not valid"}
    assert [a.status_code for a in answers] == [401, 401, 401, 404]
    assert [a.json() for a in answers[:3]] == [invalid_token] * 3
    assert "Retry-After" not in answers[0].headers
    assert [j["userKey"] for j in emulator.admin.jobs()] == ["user-0", "user-1"]
    assert [e["datasetId"] for e in emulator.admin.expirations()] == [DEFAULT_DATASETS[1].id]
    assert emulator.admin.consents()[0]["requests"] == 1
    # The token still works: the 401 was a lie.
    assert http.get(f"{TTL}/{DEFAULT_DATASETS[1].id}", headers=headers).status_code == 200
    assert emulator.admin.counters()["total"] == {"commit_then_401": 3}


def test_commit_then_statuses_are_drawn_from_the_list_reproducibly(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    plan = {"seed": 11, "write": {"commit_then_error_rate": 1}}

    def campaign() -> list[int]:
        emulator.admin.set_faults(plan)
        return [
            http.post(WORKORDERS, json=workorder_body(), headers=headers).status_code
            for _ in range(20)
        ]

    first, second = campaign(), campaign()
    assert first == second
    assert set(first) == {429, 401, 500, 502, 503}
    assert len(emulator.admin.workorders()) == 40
    write = emulator.admin.counters()["by_class"]["write"]
    assert write == {f"commit_then_{s}": 2 * first.count(s) for s in set(first)}
    assert emulator.admin.faults()["write"]["commit_then_statuses"] == [429, 401, 500, 502, 503]


# -- lying totals ---------------------------------------------------------------------


def test_lying_totals_disagree_with_the_items_returned(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    for n in range(3):
        _create_workorder(http, headers, f"Order {n}")
    emulator.admin.set_faults({"seed": 3, "read": {"lying_total_rate": 1}})
    seen = set()
    for _ in range(10):
        page = _listing(http, WORKORDERS, headers)
        shape = (page["total"], len(page["results"]), page["count"])
        assert shape in {(3, 0, 0), (2, 3, 3)}, shape
        seen.add(shape)
    assert seen == {(3, 0, 0), (2, 3, 3)}
    # Nothing to list: the total claims a full page (the default limit, 25).
    empty = _listing(http, WORKORDERS, emulator.headers("dev"))
    assert (empty["total"], empty["results"], empty["count"]) == (25, [], 0)
    assert emulator.admin.counters()["by_class"]["read"] == {"lying_total": 11}
    # Admin lists the truth.
    assert len(emulator.admin.workorders()) == 3


def test_lying_totals_of_privacy_jobs_and_expirations(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    assert http.post(JOBS, json=job_body(emulator.client.org_id, 3), headers=headers).is_success
    assert http.post(TTL, json=_expiration(), headers=headers).status_code == 201
    emulator.admin.set_faults({"seed": 3, "lying_total_rate": 1})
    jobs_seen, ttl_seen = set(), set()
    for _ in range(8):
        jobs = _listing(http, JOBS, headers, regulation="gdpr")
        jobs_seen.add((jobs["totalRecords"], len(jobs["jobDetails"])))
        ttl = _listing(http, TTL, headers)
        ttl_seen.add((ttl["total_count"], ttl["total_pages"], len(ttl["results"])))
    assert jobs_seen == {(3, 0), (2, 3)}
    assert ttl_seen == {(1, 1, 0), (0, 0, 1)}
    assert emulator.admin.counters()["total"] == {"lying_total": 16}


# -- short pages ----------------------------------------------------------------------


def test_short_pages_of_privacy_jobs_are_followed_by_more(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    answer = http.post(JOBS, json=job_body(emulator.client.org_id, 5), headers=headers)
    all_ids = {j["jobId"] for j in answer.json()["jobs"]}
    emulator.admin.set_faults({"read": {"short_page_rate": 1}})
    pages = [_listing(http, JOBS, headers, regulation="gdpr", size=4, page=n) for n in range(4)]
    assert [p["totalRecords"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["jobDetails"]) for p in pages] == [2, 2, 1, 0]
    # A client that stops at the first page shorter than size=4 has two of the five jobs;
    # one that pages on until it has totalRecords has them all.
    assert {j["jobId"] for p in pages for j in p["jobDetails"]} == all_ids
    assert len(all_ids) == 5
    # A page of one cannot be shorter and still hold something.
    assert len(_listing(http, JOBS, headers, regulation="gdpr", size=1)["jobDetails"]) == 1
    assert emulator.admin.counters()["total"] == {"short_page": 2}


def test_short_pages_of_work_orders_and_expirations(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    ids = [_create_workorder(http, headers, f"Order {n}") for n in range(3)]
    ttl_ids = [
        http.post(TTL, json=_expiration(n), headers=headers).json()["ttlId"] for n in range(3)
    ]
    emulator.admin.set_faults({"short_page_rate": 1})
    pages = [_listing(http, WORKORDERS, headers, limit=2, page=n) for n in range(3)]
    assert [(p["total"], p["count"]) for p in pages] == [(3, 1), (3, 1), (3, 1)]
    assert [w["workorderId"] for p in pages for w in p["results"]] == ids[::-1]
    # next is there while more follow, keeping the client's limit.
    assert [p["_links"].get("next", {}).get("href", "").split("?")[-1] for p in pages] == [
        "page=1&limit=2",
        "page=2&limit=2",
        "",
    ]
    ttl_pages = [_listing(http, TTL, headers, limit=2, page=n) for n in range(3)]
    assert [len(p["results"]) for p in ttl_pages] == [1, 1, 1]
    assert [e["ttlId"] for p in ttl_pages for e in p["results"]] == ttl_ids[::-1]
    assert [(p["total_count"], p["total_pages"]) for p in ttl_pages] == [(3, 2)] * 3
    assert emulator.admin.counters()["by_class"]["read"] == {"short_page": 4}


def test_short_page_and_lying_total_together_are_both_logged(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    for n in range(4):
        _create_workorder(http, headers, f"Order {n}")
    emulator.admin.set_faults({"seed": 1, "read": {"short_page_rate": 1, "lying_total_rate": 1}})
    page = _listing(http, WORKORDERS, headers, limit=4)
    assert (page["total"], page["count"]) in {(4, 0), (1, 2)}
    log = [e["fault"] for e in emulator.admin.requests() if e["method"] == "GET"]
    assert log[-1] == "short_page,lying_total"


# -- reused ids -----------------------------------------------------------------------


def test_a_new_work_order_answered_with_an_earlier_ones_id(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"write": {"reused_id_rate": 1}})
    first = _create_workorder(http, headers, "First")  # nothing earlier: the truth
    answered = _create_workorder(http, headers, "Second")
    assert answered == first
    stored = emulator.admin.workorders()
    assert [w["displayName"] for w in stored] == ["First", "Second"]
    assert stored[0]["workorderId"] == first
    assert stored[1]["workorderId"] != first
    # Looking the answered id up finds the other order.
    assert http.get(f"{WORKORDERS}/{answered}", headers=headers).json()["displayName"] == "First"
    # Never another sandbox's id.
    dev = _create_workorder(http, emulator.headers("dev"), "Dev")
    assert dev == emulator.admin.workorders(sandbox="dev")[0]["workorderId"]
    assert emulator.admin.counters()["total"] == {"reused_id": 1}


def test_new_jobs_and_expirations_answered_with_earlier_ids(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults({"reused_id_rate": 1})
    org = emulator.client.org_id
    first = http.post(JOBS, json=job_body(org), headers=headers).json()["jobs"]
    second = http.post(JOBS, json=job_body(org, 2), headers=headers).json()
    assert [j["jobId"] for j in second["jobs"]] == [first[0]["jobId"]] * 2
    assert [j["customer"]["user"]["key"] for j in second["jobs"]] == ["user-0", "user-1"]
    assert second["totalRecords"] == 2
    stored = emulator.admin.jobs()
    assert len({j["jobId"] for j in stored}) == 3

    one = http.post(TTL, json=_expiration(0), headers=headers).json()
    two = http.post(TTL, json=_expiration(1), headers=headers).json()
    assert two["ttlId"] == one["ttlId"]
    assert two["datasetId"] == DEFAULT_DATASETS[1].id  # the rest of the answer is the new one's
    truth = emulator.admin.expirations()
    assert [e["datasetId"] for e in truth] == [DEFAULT_DATASETS[0].id, DEFAULT_DATASETS[1].id]
    assert truth[1]["ttlId"] != one["ttlId"]
    looked_up = http.get(f"{TTL}/{two['ttlId']}", headers=headers).json()
    assert looked_up["datasetId"] == DEFAULT_DATASETS[0].id
    # A consent has no id to reuse; it is accepted as ever.
    assert http.post(f"{PRIVACY}/consent", json=CONSENT, headers=headers).status_code == 202
    assert emulator.admin.counters()["by_class"]["write"] == {"reused_id": 2}


# -- the admin API and the plan -------------------------------------------------------


def test_admin_endpoints_are_never_faulted_and_show_the_truth(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    emulator.admin.set_faults(
        {
            "write": {"commit_then_error_rate": 1, "commit_then_statuses": [503]},
            "read": {"search_lag_s": 300, "lying_total_rate": 1, "short_page_rate": 1},
        }
    )
    assert http.post(WORKORDERS, json=workorder_body(), headers=headers).status_code == 503
    assert http.post(TTL, json=_expiration(), headers=headers).status_code == 503
    before = emulator.admin.counters()
    assert before["total"] == {"commit_then_503": 2}
    emulator.admin.set_faults(
        {"error_rate": 1, "search_lag_s": 300, "lying_total_rate": 1, "short_page_rate": 1}
    )
    for path in ("/workorders", "/expirations", "/jobs", "/requests", "/clock", "/health"):
        assert http.get(f"/_emulator{path}").status_code == 200
    assert len(emulator.admin.workorders()) == 1
    assert len(emulator.admin.expirations()) == 1
    assert emulator.admin.counters() == before


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param({"commit_then_statuses": [404]}, id="status-not-offered"),
        pytest.param({"write": {"commit_then_statuses": []}}, id="no-status"),
        pytest.param({"commit_then_statuses": "429"}, id="not-a-list"),
        pytest.param({"commit_then_statuses": [True]}, id="boolean"),
        pytest.param({"search_lag_s": -1}, id="negative-lag"),
        pytest.param({"read": {"lying_total_rate": 1.5}}, id="rate-above-one"),
        pytest.param({"short_page_rate": "x"}, id="rate-not-a-number"),
        pytest.param({"reused_id_rate": None}, id="rate-null"),
    ],
)
def test_bad_new_fault_settings_are_refused(
    emulator: RunningEmulator, http: httpx.Client, plan: dict[str, Any]
) -> None:
    answer = http.put("/_emulator/faults", json=plan)
    assert answer.status_code == 400
    assert "fault setting" in answer.json()["message"]


def test_new_fault_settings_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text(
        "faults:\n"
        "  seed: 4\n"
        "  read: {search_lag_s: 45, lying_total_rate: 0.25, short_page_rate: 0.5}\n"
        "  write: {commit_then_error_rate: 0.1, commit_then_statuses: [429, 401],"
        " reused_id_rate: 0.2}\n",
        encoding="utf-8",
    )
    plan = load_config(path).faults
    assert plan.read.search_lag_s == 45.0
    assert (plan.read.lying_total_rate, plan.read.short_page_rate) == (0.25, 0.5)
    assert plan.write.commit_then_statuses == (429, 401)
    assert plan.write.reused_id_rate == 0.2
    assert plan.token.commit_then_statuses == (429, 401, 500, 502, 503)
    assert FaultPlan.from_dict(plan.to_dict()) == plan


def test_a_seeded_campaign_replays_as_it_did_before_the_new_modes(
    emulator: RunningEmulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    # The statuses this plan gave before the new modes existed (0: the answer was dropped).
    # The new modes at 0 draw nothing, so the sequence is the same.
    emulator.admin.set_faults(
        {
            "seed": 42,
            "error_rate": 0.4,
            "throttle_rate": 0.1,
            "drop_after_commit_rate": 0.2,
            "search_lag_s": 0,
            "lying_total_rate": 0,
            "short_page_rate": 0,
            "commit_then_error_rate": 0,
            "reused_id_rate": 0,
        }
    )
    statuses = []
    for n in range(20):
        try:
            if n % 2:
                answer = http.get(WORKORDERS, headers=headers)
            else:
                answer = http.post(WORKORDERS, json=workorder_body(), headers=headers)
            statuses.append(answer.status_code)
        except httpx.TransportError:
            statuses.append(0)
    assert statuses == [
        502, 500, 0, 500, 200, 200, 200, 200, 200, 200,
        502, 200, 200, 503, 200, 500, 429, 500, 200, 200,
    ]  # fmt: skip
