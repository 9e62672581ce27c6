from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from reconciler.adobe import (
    Identity,
    InvalidArgumentError,
    InvalidResponseError,
    OutcomeUnknownError,
    WorkOrderStatus,
)

from .conftest import HYGIENE, Harness, json_response, work_order_json

LIST = f"{HYGIENE}/workorder"


def page_of(ids: list[str], total: int, *, next_link: bool = True) -> httpx.Response:
    body: dict[str, object] = {
        "results": [work_order_json(i) for i in ids],
        "total": total,
        "count": len(ids),
    }
    if next_link:
        # Adobe's example carries a next link even on the last page.
        body["_links"] = {"next": {"href": "https://platform.adobe.io/workorder?page=1&limit=2"}}
    return json_response(200, body)


def paged(pages: dict[int, httpx.Response]) -> object:
    """Answers from ``pages``; past them, an empty page with the last page's total."""
    last = json.loads(pages[max(pages)].content)["total"]

    def answer(request: httpx.Request) -> httpx.Response:
        return pages.get(int(request.url.params["page"]), page_of([], last))

    return answer


# --- create ---


def test_create_sends_the_grouped_form(harness: Harness) -> None:
    answer = work_order_json("DI-9", displayName="Example Consumer Delete Request")
    harness.adobe.on("POST", LIST, json_response(201, answer))
    order = harness.make().hygiene.create_work_order(
        dataset_id="c48b51623ec641a2949d339bad69cb15",
        display_name="Example Consumer Delete Request",
        description="jira-12345",
        identities=[
            Identity("email", "poul.anderson@example.com"),
            ("email", "cordwainer.smith@example.com"),
            ("email", "poul.anderson@example.com"),
            ("ecid", "12345"),
        ],
        target_services=["profile", "datalake"],
    )
    assert order.workorder_id == "DI-9"
    assert order.state is WorkOrderStatus.RECEIVED
    (request,) = harness.adobe.calls("POST")
    assert json.loads(request.content) == {
        "action": "delete_identity",
        "datasetId": "c48b51623ec641a2949d339bad69cb15",
        "displayName": "Example Consumer Delete Request",
        "description": "jira-12345",
        "namespacesIdentities": [
            {
                "namespace": {"code": "email"},
                "IDs": ["poul.anderson@example.com", "cordwainer.smith@example.com"],
            },
            {"namespace": {"code": "ecid"}, "IDs": ["12345"]},
        ],
        "targetServices": ["profile", "datalake"],
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one"),
        (
            {"identities": [("email", "a@x.io")], "namespaces_identities": {"email": ["a@x.io"]}},
            "exactly one",
        ),
        ({"identities": []}, "at least one"),
        ({"namespaces_identities": {"email": []}}, "at least one"),
        ({"namespaces_identities": {"email": "a@x.io"}}, "list of strings"),
        ({"namespaces_identities": {"email": [""]}}, "non-empty"),
        ({"identities": [("", "a@x.io")]}, "namespaces"),
        ({"identities": [("email",)]}, "pair"),
        ({"namespaces_identities": {"email": [f"u{i}@x.io" for i in range(100_001)]}}, "100000"),
        ({"namespaces_identities": {"email": ["a@x.io"]}, "dataset_id": "../etc"}, "dataset_id"),
    ],
)
def test_create_refuses_bad_input_before_sending(
    harness: Harness, kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {"dataset_id": "ALL", "display_name": "x", "description": "y"}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        harness.make().hygiene.create_work_order(**args)  # type: ignore[arg-type]
    assert harness.adobe.requests == []


def test_create_accepts_100000_identities(harness: Harness) -> None:
    harness.adobe.on(
        "POST", LIST, json_response(201, work_order_json(displayName="x", description="y"))
    )
    ids = [f"user{i}@example.com" for i in range(100_000)]
    harness.make().hygiene.create_work_order(
        dataset_id="ALL", display_name="x", description="y", namespaces_identities={"email": ids}
    )
    body = json.loads(harness.adobe.calls("POST")[0].content)
    assert len(body["namespacesIdentities"][0]["IDs"]) == 100_000


# --- get / update ---


def test_get_reads_every_field(harness: Harness) -> None:
    details = [
        {"productName": "Data Management", "productStatus": "success", "createdAt": "2026-06-01"},
        {"productName": "Profile Service", "productStatus": "waiting"},
    ]
    harness.adobe.on(
        "GET",
        f"{LIST}/DI-1",
        json_response(200, work_order_json(status="in-progress", productStatusDetails=details)),
    )
    order = harness.make().hygiene.get_work_order("DI-1")
    assert order.state is WorkOrderStatus.IN_PROGRESS
    assert not order.state.is_final
    assert order.operation_count == 1
    assert order.target_services == ("profile", "datalake", "identity")
    assert [p.product_name for p in order.product_status_details] == [
        "Data Management",
        "Profile Service",
    ]
    assert order.product_status_details[1].created_at is None


def test_unknown_status_is_kept_not_a_crash(harness: Harness) -> None:
    harness.adobe.on("GET", f"{LIST}/DI-1", json_response(200, work_order_json(status="paused")))
    order = harness.make().hygiene.get_work_order("DI-1")
    assert order.status == "paused"
    assert order.state is WorkOrderStatus.UNKNOWN


@pytest.mark.parametrize("bad_id", ["", "../quota", "DI-1/x", "DI 1", "DI-1?page=2", "é"])
def test_bad_ids_from_the_caller_are_refused(harness: Harness, bad_id: str) -> None:
    client = harness.make()
    with pytest.raises(InvalidArgumentError):
        client.hygiene.get_work_order(bad_id)
    with pytest.raises(InvalidArgumentError):
        client.hygiene.update_work_order(bad_id, description="x")
    assert harness.adobe.requests == []


def test_update_sends_display_name(harness: Harness) -> None:
    answer = json_response(200, work_order_json(displayName="New", description="jira-9"))
    harness.adobe.on("PUT", f"{LIST}/DI-1", answer)
    order = harness.make().hygiene.update_work_order(
        "DI-1", display_name="New", description="jira-9"
    )
    assert order.display_name == "New"
    (request,) = harness.adobe.calls("PUT")
    assert json.loads(request.content) == {"displayName": "New", "description": "jira-9"}


def test_update_falls_back_to_name_when_display_name_was_ignored(harness: Harness) -> None:
    harness.adobe.on(
        "PUT",
        f"{LIST}/DI-1",
        json_response(200, work_order_json(displayName="Old")),
        json_response(200, work_order_json(displayName="New")),
    )
    order = harness.make().hygiene.update_work_order("DI-1", display_name="New")
    assert order.display_name == "New"
    bodies = [json.loads(r.content) for r in harness.adobe.calls("PUT")]
    assert bodies == [{"displayName": "New"}, {"name": "New"}]


def test_update_needs_something_to_change(harness: Harness) -> None:
    with pytest.raises(InvalidArgumentError):
        harness.make().hygiene.update_work_order("DI-1")


# --- list ---


def test_list_pages_until_an_empty_page_and_ignores_next_links(harness: Harness) -> None:
    pages = {
        0: page_of(["DI-1", "DI-2"], 5),
        1: page_of(["DI-3", "DI-4"], 5),
        2: page_of(["DI-5"], 5),
    }
    harness.adobe.on("GET", LIST, paged(pages))  # type: ignore[arg-type]
    orders = harness.make().hygiene.list_work_orders(limit=2, search="jira-12345")
    assert [o.workorder_id for o in orders] == ["DI-1", "DI-2", "DI-3", "DI-4", "DI-5"]
    requests = harness.adobe.calls("GET")
    assert [r.url.params["page"] for r in requests] == ["0", "1", "2", "3"]
    assert requests[0].url.params["limit"] == "2"
    assert requests[0].url.params["search"] == "jira-12345"
    assert requests[0].url.params["type"] == "identity-delete"


def test_a_short_page_is_not_the_last(harness: Harness) -> None:
    # A server that pages by fewer than asked: the old rule (short page = last) stopped at 2.
    pages = {
        0: page_of(["DI-1", "DI-2"], 5),
        1: page_of(["DI-3", "DI-4"], 5),
        2: page_of(["DI-5"], 5),
    }
    harness.adobe.on("GET", LIST, paged(pages))  # type: ignore[arg-type]
    assert len(harness.make().hygiene.list_work_orders(limit=100)) == 5
    assert len(harness.adobe.calls()) == 4


def test_list_without_totals_pages_until_an_empty_page(harness: Harness) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        ids = [["DI-1"], ["DI-2"], []][page]
        return json_response(200, {"results": [work_order_json(i) for i in ids]})

    harness.adobe.on("GET", LIST, answer)
    assert [o.workorder_id for o in harness.make().hygiene.list_work_orders(limit=2)] == [
        "DI-1",
        "DI-2",
    ]


def test_list_reads_an_exact_last_page_and_one_empty_one(harness: Harness) -> None:
    pages = {0: page_of(["DI-1", "DI-2"], 4), 1: page_of(["DI-3", "DI-4"], 4)}
    harness.adobe.on("GET", LIST, paged(pages))  # type: ignore[arg-type]
    assert len(harness.make().hygiene.list_work_orders(limit=2)) == 4
    assert len(harness.adobe.calls()) == 3  # one empty page; the next links are not followed


def test_list_empty(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, page_of([], 0))
    assert harness.make().hygiene.list_work_orders() == []
    assert len(harness.adobe.calls()) == 1


@pytest.mark.parametrize(
    ("pages", "told"),
    [
        pytest.param(
            {0: page_of(["DI-1", "DI-2"], 1000), 1: page_of(["DI-3"], 1000), 2: page_of([], 1000)},
            "page 0 told total 1000, 3 work orders were listed",
            id="total-too-high",
        ),
        pytest.param(
            {0: page_of(["DI-1", "DI-2"], 1), 1: page_of([], 1)},
            "page 0 told total 1, 2 work orders were listed",
            id="total-too-low",
        ),
        pytest.param(
            {0: page_of(["DI-1", "DI-2"], 2), 1: page_of([], 7)},
            "page 1 told total 7, 2 work orders were listed",
            id="total-of-the-empty-page",
        ),
        pytest.param(
            {
                0: json_response(
                    200, {"results": [work_order_json("DI-1")], "total": 1, "count": 2}
                ),
                1: page_of([], 1),
            },
            "page 0 told count 2 for the 1 it held",
            id="count",
        ),
    ],
)
def test_a_listing_that_contradicts_itself_twice_is_refused(
    harness: Harness, pages: dict[int, httpx.Response], told: str
) -> None:
    harness.adobe.on("GET", LIST, paged(pages))  # type: ignore[arg-type]
    with pytest.raises(InvalidResponseError) as caught:
        harness.make().hygiene.list_work_orders(limit=2)
    message = str(caught.value)
    assert message == (
        f"GET {HYGIENE}/workorder: Adobe's listing contradicts itself: {told}, in 2 listings"
        " in a row; nothing was created because of it"
    )
    pages_asked = [r.url.params["page"] for r in harness.adobe.calls()]
    assert pages_asked == [str(n) for n in range(len(pages))] * 2


def test_a_listing_that_adds_up_when_read_again_is_returned(harness: Harness) -> None:
    # The first reading misses DI-3 (created meanwhile, or a gateway that lied): the
    # totals show it, and the second reading has it.
    answers = iter(
        [
            page_of(["DI-1", "DI-2"], 3),
            page_of([], 3),
            page_of(["DI-3", "DI-1"], 3),
            page_of(["DI-2"], 3),
            page_of([], 3),
        ]
    )
    harness.adobe.on("GET", LIST, lambda request: next(answers))
    orders = harness.make().hygiene.list_work_orders(limit=2)
    assert [o.workorder_id for o in orders] == ["DI-3", "DI-1", "DI-2"]
    assert [r.url.params["page"] for r in harness.adobe.calls()] == ["0", "1", "0", "1", "2"]


def test_nothing_is_yielded_before_the_listing_adds_up(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, paged({0: page_of(["DI-1"], 2)}))  # type: ignore[arg-type]
    orders = harness.make().hygiene.iter_work_orders(limit=2)
    with pytest.raises(InvalidResponseError, match="contradicts itself"):
        next(orders)


def test_list_server_that_ignores_page_is_caught(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, page_of(["DI-1", "DI-2"], 50))
    with pytest.raises(InvalidResponseError) as caught:
        harness.make().hygiene.list_work_orders(limit=2)
    assert str(caught.value) == (
        f"GET {HYGIENE}/workorder: Adobe's listing contradicts itself: page 1 repeats earlier"
        " results (the server does not page as asked), in 2 listings in a row; nothing was"
        " created because of it"
    )
    assert [r.url.params["page"] for r in harness.adobe.calls()] == ["0", "1", "0", "1"]


def test_a_page_repeated_once_is_read_again(harness: Harness) -> None:
    # A gateway that answered page 1 with page 0's items once (mixed page sizes): the
    # second reading pages properly and is believed.
    answers = iter(
        [
            page_of(["DI-1", "DI-2"], 3),
            page_of(["DI-1", "DI-2"], 3),
            page_of(["DI-1", "DI-2"], 3),
            page_of(["DI-3"], 3),
            page_of([], 3),
        ]
    )
    harness.adobe.on("GET", LIST, lambda request: next(answers))
    orders = harness.make().hygiene.list_work_orders(limit=2)
    assert [o.workorder_id for o in orders] == ["DI-1", "DI-2", "DI-3"]
    assert [r.url.params["page"] for r in harness.adobe.calls()] == ["0", "1", "0", "1", "2"]


def test_a_page_larger_than_asked_is_refused(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, page_of(["DI-1", "DI-2", "DI-3"], 3))
    with pytest.raises(InvalidResponseError, match="page 0 holds 3 work orders, more than"):
        harness.make().hygiene.list_work_orders(limit=2)


def test_list_that_never_ends_is_bounded(harness: Harness) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return page_of([f"DI-{page}-a", f"DI-{page}-b"], (page + 2) * 2)  # total keeps growing

    harness.adobe.on("GET", LIST, endless)
    with pytest.raises(InvalidResponseError, match="did not end after 20 pages"):
        harness.make(max_pages=20).hygiene.list_work_orders(limit=2)
    assert len(harness.adobe.calls()) == 21  # 20 pages, and the one that should be empty


def test_max_pages_full_pages_and_the_empty_one_are_read(harness: Harness) -> None:
    pages = {n: page_of([f"DI-{2 * n}", f"DI-{2 * n + 1}"], 6) for n in range(3)}
    harness.adobe.on("GET", LIST, paged(pages))  # type: ignore[arg-type]
    assert len(harness.make(max_pages=3).hygiene.list_work_orders(limit=2)) == 6


def test_list_filters(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, page_of([], 0))
    harness.make().hygiene.list_work_orders(
        status=["completed", "failed"],
        from_date=date(2026, 6, 1),
        to_date="2026-06-15",
        sandbox_name="*",
        order_by="-createdAt",
    )
    params = harness.adobe.calls()[0].url.params
    assert params["status"] == "completed,failed"
    assert (params["fromDate"], params["toDate"]) == ("2026-06-01", "2026-06-15")
    assert params["sandboxName"] == "*"
    assert params["orderBy"] == "-createdAt"
    assert params["limit"] == "100"


def test_list_refuses_half_a_date_window_and_bad_limits(harness: Harness) -> None:
    client = harness.make()
    with pytest.raises(InvalidArgumentError):
        client.hygiene.list_work_orders(from_date=date(2026, 6, 1))
    with pytest.raises(InvalidArgumentError):
        client.hygiene.list_work_orders(limit=101)


def test_list_with_wrong_types_is_invalid(harness: Harness) -> None:
    harness.adobe.on("GET", LIST, json_response(200, {"results": {"a": 1}, "total": 1}))
    with pytest.raises(InvalidResponseError, match="'results' should be a list"):
        harness.make().hygiene.list_work_orders()
    harness.adobe.on("GET", LIST, json_response(200, {"results": [], "total": "1"}))
    with pytest.raises(InvalidResponseError, match="'total' should be an integer"):
        harness.make().hygiene.list_work_orders()


# --- quota ---


def test_quota(harness: Harness) -> None:
    body = {
        "quotas": [
            {"name": "dailyConsumerDeleteIdentitiesQuota", "consumed": 314, "quota": 1_000_000},
            {"name": "monthlyConsumerDeleteIdentitiesQuota", "consumed": 10, "quota": 5},
        ]
    }
    harness.adobe.on("GET", f"{HYGIENE}/quota", json_response(200, body))
    daily, monthly = harness.make().hygiene.get_quota()
    assert daily.remaining == 999_686
    assert monthly.remaining == 0


def test_quota_filter_and_bad_numbers(harness: Harness) -> None:
    body = {"quotas": [{"name": "x", "consumed": -1, "quota": 5}]}
    harness.adobe.on("GET", f"{HYGIENE}/quota", json_response(200, body))
    with pytest.raises(InvalidResponseError, match="negative"):
        harness.make().hygiene.get_quota("dailyConsumerDeleteIdentitiesQuota")
    assert harness.adobe.calls()[0].url.params["quotaType"] == "dailyConsumerDeleteIdentitiesQuota"


def test_create_answer_of_the_wrong_shape_is_an_unknown_outcome(harness: Harness) -> None:
    harness.adobe.on("POST", LIST, json_response(201, {"status": "received"}))
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().hygiene.create_work_order(
            dataset_id="ALL", display_name="x", description="y", identities=[("email", "a@x.io")]
        )
    assert isinstance(caught.value.__cause__, InvalidResponseError)
    assert len(harness.adobe.calls()) == 1


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"description": "jira-other"}, id="description"),
        pytest.param({"displayName": "Another"}, id="display-name"),
        pytest.param({"datasetId": "d2f1c8a4b8f747d0ba3521e2"}, id="dataset"),
    ],
)
def test_create_answer_about_another_work_order_is_an_unknown_outcome(
    harness: Harness, changes: dict[str, str]
) -> None:
    harness.adobe.on("POST", LIST, json_response(201, work_order_json(**changes)))
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().hygiene.create_work_order(
            dataset_id="c48b51623ec641a2949d339bad69cb15",
            display_name="Example",
            description="jira-12345",
            identities=[("email", "a@x.io")],
        )
    assert f"another {next(iter(changes))} than was sent" in str(caught.value.__cause__)
    assert "a@x.io" not in str(caught.value) + str(caught.value.__cause__)
    assert len(harness.adobe.calls()) == 1


def test_create_answer_may_leave_fields_out(harness: Harness) -> None:
    answer = work_order_json()
    for name in ("datasetId", "displayName", "description"):
        del answer[name]
    harness.adobe.on("POST", LIST, json_response(201, answer))
    order = harness.make().hygiene.create_work_order(
        dataset_id="ALL", display_name="x", description="y", identities=[("email", "a@x.io")]
    )
    assert order.workorder_id == "DI-1"
