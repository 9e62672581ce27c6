from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest

from reconciler.adobe import (
    InvalidArgumentError,
    InvalidResponseError,
    OutcomeUnknownError,
    PrivacyJobStatus,
    PrivacyUser,
    UserId,
)

from .conftest import EMAIL, PRIVACY, TODAY, Harness, json_response

JOBS = f"{PRIVACY}/jobs"


def user(key: str = "req-1", actions: list[str] | None = None, n_ids: int = 1) -> dict[str, Any]:
    return {
        "key": key,
        "action": actions or ["access", "delete"],
        "userIDs": [
            {"namespace": "email", "value": f"{i}{EMAIL}", "type": "standard"} for i in range(n_ids)
        ],
    }


def created(jobs_field: str = "jobs", key: str = "req-1") -> httpx.Response:
    jobs = [
        {
            "jobId": "6f40987c-e535-40bd-aad6-e9414978a095",
            "customer": {
                "user": {
                    "key": key,
                    "action": ["access"],
                    "userIDs": [{"namespace": "email", "value": EMAIL, "type": "standard"}],
                }
            },
        },
        {
            "jobId": "cb62112d-aed8-4024-aa5c-312309e3dec7",
            "customer": {"user": {"key": key, "action": ["delete"]}},
        },
    ]
    body = {"requestId": "16203318964318668RX-054", "totalRecords": 2, jobs_field: jobs}
    return json_response(202, body)


def job(job_id: str, **changes: Any) -> dict[str, Any]:
    data = {
        "jobId": job_id,
        "requestId": "16197332222128898RX-318",
        "userKey": "req-1",
        "action": "delete",
        "status": "complete",
        "submittedBy": "tech@example.com",
        "createdDate": "04/29/2021 09:53 PM GMT",
        "lastModifiedDate": "04/29/2021 11:20 PM GMT",
    }
    data.update(changes)
    return data


# --- create ---


@pytest.mark.parametrize("jobs_field", ["jobs", "jobDetails"])
def test_create_privacy_job(harness: Harness, jobs_field: str) -> None:
    harness.adobe.on("POST", JOBS, created(jobs_field))
    result = harness.make().privacy.create_privacy_job(
        regulation="gdpr",
        users=[user()],
        include=["analytics", "profileService"],
        expand_ids=True,
        priority="low",
        analytics_delete_method="purge",
        merge_policy_id="mp-1",
    )
    assert result.request_id == "16203318964318668RX-054"
    assert [(j.user_key, j.actions) for j in result.jobs] == [
        ("req-1", ("access",)),
        ("req-1", ("delete",)),
    ]
    assert EMAIL not in repr(result)  # echoed identities are not kept
    (request,) = harness.adobe.calls("POST")
    body = json.loads(request.content)
    assert body == {
        "companyContexts": [{"namespace": "imsOrgID", "value": "ORG@AdobeOrg"}],
        "users": [user()],
        "include": ["analytics", "profileService"],
        "regulation": "gdpr",
        "expandIds": "true",
        "priority": "low",
        "analyticsDeleteMethod": "purge",
        "mergePolicyId": "mp-1",
    }
    assert "x-sandbox-name" not in request.headers


def test_create_with_typed_users_and_defaults(harness: Harness) -> None:
    harness.adobe.on("POST", JOBS, created(key="req-2"))
    typed = PrivacyUser(
        key="req-2",
        actions=("delete",),
        user_ids=(UserId("ECID", "443636576799758681021090721276", is_deleted_client_side=False),),
    )
    assert "4436365767" not in repr(typed)
    harness.make().privacy.create_privacy_job(
        regulation="cpra_ca_usa", users=[typed], include=["Identity"]
    )
    body = json.loads(harness.adobe.calls("POST")[0].content)
    assert "expandIds" not in body and "priority" not in body
    assert body["users"] == [
        {
            "key": "req-2",
            "action": ["delete"],
            "userIDs": [
                {
                    "namespace": "ECID",
                    "value": "443636576799758681021090721276",
                    "type": "standard",
                    "isDeletedClientSide": False,
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"users": []}, "at least one user"),
        ({"users": [user(f"k{i}") for i in range(1001)]}, "1000"),
        ({"users": [user(n_ids=10)]}, "1 to 9"),
        ({"users": [user(n_ids=0)]}, "1 to 9"),
        ({"users": [user(actions=["erase"])]}, "access and/or delete"),
        ({"users": [user(), user()]}, "share a key"),
        ({"users": [{"key": "k", "action": "delete", "userIDs": []}]}, "list of strings"),
        ({"include": []}, "at least one product"),
        ({"include": ["analytics", "analytics"]}, "twice"),
        ({"regulation": "GDPR!"}, "regulation"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_create_refuses_bad_jobs_before_sending(
    harness: Harness, changes: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {"regulation": "gdpr", "users": [user()], "include": ["analytics"]}
    args.update(changes)
    with pytest.raises(InvalidArgumentError, match=match):
        harness.make().privacy.create_privacy_job(**args)
    assert harness.adobe.requests == []


def test_create_answer_without_job_ids_is_an_unknown_outcome(harness: Harness) -> None:
    harness.adobe.on("POST", JOBS, json_response(202, {"requestId": "r-1", "jobs": [{"jobId": 5}]}))
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().privacy.create_privacy_job(
            regulation="gdpr", users=[user()], include=["analytics"]
        )
    assert "jobId" in str(caught.value.__cause__)
    assert len(harness.adobe.calls()) == 1


# --- get ---


@pytest.mark.parametrize("url_field", ["downloadURL", "downloadUrl"])
def test_get_privacy_job(harness: Harness, url_field: str) -> None:
    responses = [
        {
            "product": "profileService",
            "retryCount": 0,
            "processedDate": "05/01/2021 10:00 AM GMT",
            "productStatusResponse": {
                "status": "complete",
                "message": "ok\x07",
                "responseMsgCode": "6000-200",
            },
        }
    ]
    body = job(
        "job-1",
        regulation="gdpr",
        userIds=[{"namespace": "email", "value": EMAIL}],
        productResponses=responses,
        **{url_field: "https://download.test/x"},
    )
    harness.adobe.on("GET", f"{JOBS}/job-1", json_response(200, body))
    result = harness.make().privacy.get_privacy_job("job-1")
    assert result.state is PrivacyJobStatus.COMPLETE and result.state.is_final
    assert result.download_url == "https://download.test/x"
    (response,) = result.product_responses
    assert (response.product, response.status, response.response_msg_code) == (
        "profileService",
        "complete",
        "6000-200",
    )
    assert response.message == "ok"
    assert EMAIL not in repr(result)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        pytest.param("req-other", "names a user key that was not sent", id="another-key"),
        pytest.param(None, "lists no jobs", id="no-jobs"),
    ],
)
def test_create_answer_about_other_users_is_an_unknown_outcome(
    harness: Harness, key: str | None, problem: str
) -> None:
    answer = created(key=key or "req-1")
    if key is None:
        answer = json_response(202, {"requestId": "16203318964318668RX-054", "jobs": []})
    harness.adobe.on("POST", JOBS, answer)
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().privacy.create_privacy_job(
            regulation="gdpr", users=[user()], include=["analytics"]
        )
    assert problem in str(caught.value.__cause__)
    assert len(harness.adobe.calls("POST")) == 1


def test_create_answer_missing_a_user_is_an_unknown_outcome(harness: Harness) -> None:
    harness.adobe.on("POST", JOBS, created())
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().privacy.create_privacy_job(
            regulation="gdpr", users=[user(), user("req-2")], include=["analytics"]
        )
    assert "no job for a user that was sent" in str(caught.value.__cause__)
    assert "req-2" not in str(caught.value.__cause__)


def test_get_privacy_job_refuses_bad_ids(harness: Harness) -> None:
    with pytest.raises(InvalidArgumentError):
        harness.make().privacy.get_privacy_job("../consent")


# --- list ---


def jobs_answer(count: int, total: object = "count", size_cap: int = 100) -> Any:
    """``GET /jobs`` over ``count`` jobs, paged by at most ``size_cap``; ``total`` is what
    totalRecords says ("count": the true count)."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        size = min(int(request.url.params["size"]), size_cap)
        ids = [f"job-{n}" for n in range(page * size, min((page + 1) * size, count))]
        told = count if total == "count" else total
        return json_response(200, {"totalRecords": told, "jobDetails": [job(i) for i in ids]})

    return answer


def test_list_pages_until_an_empty_page(harness: Harness) -> None:
    harness.adobe.on("GET", JOBS, jobs_answer(250))
    jobs = harness.make().privacy.list_privacy_jobs("gdpr", status="complete")
    assert [j.job_id for j in jobs] == [f"job-{n}" for n in range(250)]
    requests = harness.adobe.calls()
    assert [r.url.params["page"] for r in requests] == ["0", "1", "2", "3"]
    assert requests[0].url.params["regulation"] == "gdpr"
    assert requests[0].url.params["status"] == "complete"
    assert "fromDate" not in requests[0].url.params


def test_list_goes_past_a_short_page(harness: Harness) -> None:
    # A service whose maximum is below the size asked: every page is short.
    harness.adobe.on("GET", JOBS, jobs_answer(120, size_cap=25))
    jobs = harness.make().privacy.list_privacy_jobs("gdpr")
    assert [j.job_id for j in jobs] == [f"job-{n}" for n in range(120)]
    assert len(harness.adobe.calls()) == 6


def test_list_takes_total_records_as_the_page_count_too(harness: Harness) -> None:
    # The spec: totalRecords is "the number of jobs returned in the response".
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        ids = [f"job-{n}" for n in range(page * 100, min((page + 1) * 100, 130))]
        return json_response(200, {"totalRecords": len(ids), "jobDetails": [job(i) for i in ids]})

    harness.adobe.on("GET", JOBS, answer)
    assert len(harness.make().privacy.list_privacy_jobs("gdpr")) == 130


@pytest.mark.parametrize("total", [131, 129, 0])
def test_list_whose_total_records_disagree_twice_is_refused(harness: Harness, total: int) -> None:
    harness.adobe.on("GET", JOBS, jobs_answer(130, total=total))
    with pytest.raises(InvalidResponseError) as caught:
        harness.make().privacy.list_privacy_jobs("gdpr")
    assert str(caught.value) == (
        f"GET {JOBS}: Adobe's listing contradicts itself: page 0 told totalRecords {total},"
        " 130 privacy jobs were listed (100 on that page), in 2 listings in a row;"
        " nothing was created because of it"
    )
    assert [r.url.params["page"] for r in harness.adobe.calls()] == ["0", "1", "2"] * 2


def test_list_one_based_server(harness: Harness) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = max(1, int(request.url.params["page"]))  # page 0 is read as page 1
        ids = [f"job-{n}" for n in range((page - 1) * 100, min(page * 100, 150))]
        return json_response(200, {"totalRecords": 150, "jobDetails": [job(i) for i in ids]})

    harness.adobe.on("GET", JOBS, answer)
    assert len(harness.make().privacy.list_privacy_jobs("gdpr")) == 150


def test_list_server_repeating_pages_is_caught(harness: Harness) -> None:
    ids = [f"job-{n}" for n in range(100)]
    harness.adobe.on(
        "GET", JOBS, json_response(200, {"totalRecords": 900, "jobDetails": [job(i) for i in ids]})
    )
    with pytest.raises(InvalidResponseError, match="repeats"):
        harness.make().privacy.list_privacy_jobs("gdpr")
    assert len(harness.adobe.calls()) == 6  # page 0 again under its number 1, then a repeat; twice


def test_list_empty_and_missing_list(harness: Harness) -> None:
    harness.adobe.on("GET", JOBS, json_response(200, {"totalRecords": 0}))
    assert harness.make().privacy.list_privacy_jobs("gdpr") == []


def test_list_long_window_is_split_into_30_day_calls(harness: Harness) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        # The same job shows in both windows (they share a boundary day): reported once.
        jobs = [job("job-1")] if request.url.params["page"] == "0" else []
        return json_response(200, {"totalRecords": 1, "jobDetails": jobs})

    harness.adobe.on("GET", JOBS, answer)
    jobs = harness.make().privacy.list_privacy_jobs(
        "gdpr", from_date=date(2026, 4, 20), to_date=TODAY
    )
    assert [j.job_id for j in jobs] == ["job-1"]
    windows = [(r.url.params["fromDate"], r.url.params["toDate"]) for r in harness.adobe.calls()]
    first, second = ("2026-04-20", "2026-05-19"), ("2026-05-19", "2026-06-15")
    assert windows == [first, first, second, second]  # each window its own listing


@pytest.mark.parametrize(
    ("from_date", "to_date", "match"),
    [
        (date(2026, 4, 1), TODAY, "60 days"),
        (TODAY, date(2026, 6, 1), "after"),
        (TODAY, None, "both"),
    ],
)
def test_list_refuses_bad_windows(
    harness: Harness, from_date: date, to_date: date | None, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        harness.make().privacy.list_privacy_jobs("gdpr", from_date=from_date, to_date=to_date)


def test_list_refuses_bad_status(harness: Harness) -> None:
    with pytest.raises(InvalidArgumentError):
        harness.make().privacy.list_privacy_jobs("gdpr", status="done")


# --- consent ---


def test_consent(harness: Harness) -> None:
    harness.adobe.on("POST", f"{PRIVACY}/consent", httpx.Response(202))
    harness.make().privacy.submit_consent({"email": [EMAIL, EMAIL], "ECID": ["4436"]})
    (request,) = harness.adobe.calls("POST")
    assert json.loads(request.content) == {
        "optOutOfSale": True,
        "entities": [
            {"nameSpace": "email", "values": [EMAIL]},
            {"nameSpace": "ECID", "values": ["4436"]},
        ],
    }
    assert request.headers["content-type"] == "application/json"


def test_consent_lost_answer_is_an_unknown_outcome(harness: Harness) -> None:
    harness.adobe.on("POST", f"{PRIVACY}/consent", httpx.Response(500), httpx.Response(202))
    with pytest.raises(OutcomeUnknownError):
        harness.make().privacy.submit_consent({"email": [EMAIL]})
    assert len(harness.adobe.calls()) == 1


@pytest.mark.parametrize("entities", [{}, {"email": []}, {"email": "a@x.io"}, {"": ["a"]}])
def test_consent_refuses_bad_entities(harness: Harness, entities: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        harness.make().privacy.submit_consent(entities)
