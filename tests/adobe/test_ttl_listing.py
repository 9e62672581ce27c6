"""``client.ttl.list_expirations`` against pages that lie: the listing is read until an
empty page and must add up to every ``total_count`` and ``total_pages`` its pages gave; if
it does not, it is read again, and if it still does not the call raises instead of
returning a short list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.adobe import InvalidArgumentError, InvalidResponseError

from .conftest import TTL, Harness, json_response, page_json, paged


def ids(n: int, start: int = 0) -> list[str]:
    return [f"SD-{i}" for i in range(start, start + n)]


def listed(harness: Harness, **kwargs: Any) -> list[str]:
    return [e.ttl_id for e in harness.make().ttl.list_expirations(**kwargs)]


def pages_asked(harness: Harness) -> list[str]:
    return [r.url.params["page"] for r in harness.adobe.calls("GET", TTL)]


def test_pages_by_total_count(harness: Harness) -> None:
    pages = {p: page_json(ids(2, 2 * p)[: 5 - 2 * p], 5, p, 3) for p in range(3)}
    harness.adobe.on("GET", TTL, paged(pages))
    found = listed(harness, limit=2, dataset_id="ds1", search="acme", status=["pending"])
    assert found == ["SD-0", "SD-1", "SD-2", "SD-3", "SD-4"]
    assert pages_asked(harness) == ["0", "1", "2", "3"]
    params = harness.adobe.calls("GET", TTL)[0].url.params
    assert (params["limit"], params["datasetId"], params["search"]) == ("2", "ds1", "acme")
    assert params["status"] == "pending"


def test_an_exact_last_page_ends_the_list(harness: Harness) -> None:
    harness.adobe.on(
        "GET", TTL, paged({0: page_json(ids(2), 4, 0, 2), 1: page_json(ids(2, 2), 4, 1, 2)})
    )
    assert len(listed(harness, limit=2)) == 4
    assert pages_asked(harness) == ["0", "1", "2"]


@pytest.mark.parametrize("pages", [0, 1, None])
def test_an_empty_list(harness: Harness, pages: int | None) -> None:
    harness.adobe.on("GET", TTL, json_response(200, page_json([], 0, 0, pages)))
    assert listed(harness) == []
    assert pages_asked(harness) == ["0"]


def test_filters_and_defaults(harness: Harness) -> None:
    harness.adobe.on("GET", TTL, json_response(200, page_json([], 0, 0, 0)))
    listed(
        harness,
        status=("pending", "executing"),
        author="LIKE %stark%",
        display_name="Expiry",
        description="Acme",
        dataset_name="Acme_",
    )
    params = harness.adobe.calls("GET", TTL)[0].url.params
    assert params["status"] == "pending,executing"
    assert (params["author"], params["displayName"]) == ("LIKE %stark%", "Expiry")
    assert (params["description"], params["datasetName"]) == ("Acme", "Acme_")
    assert (params["limit"], params["page"]) == ("100", "0")


def test_a_server_that_pages_by_fewer_is_followed(harness: Harness) -> None:
    pages = {p: page_json(ids(2, 2 * p)[: 5 - 2 * p], 5, p, 3) for p in range(3)}
    harness.adobe.on("GET", TTL, paged(pages))
    assert len(listed(harness)) == 5  # asked for 100 a page, given 2


@pytest.mark.parametrize(
    ("pages", "match"),
    [
        pytest.param(
            {0: page_json(ids(2), 5, 0, 3), 1: page_json(ids(2, 2), 5, 0, 3)},
            "page 1 was answered as page 0",
            id="wrong-page",
        ),
        pytest.param({0: page_json(ids(3), 9, 0, 5)}, "more than the limit 2", id="over-limit"),
    ],
)
def test_pages_not_paged_as_asked_are_refused_at_once(
    harness: Harness, pages: dict[int, Any], match: str
) -> None:
    harness.adobe.on("GET", TTL, paged(pages))
    with pytest.raises(InvalidResponseError, match=match):
        listed(harness, limit=2)
    assert len(pages_asked(harness)) == len(pages)


@pytest.mark.parametrize(
    ("pages", "told"),
    [
        pytest.param(
            {0: page_json(ids(2), 5, 0, 2), 1: page_json(ids(2, 2), 5, 1, 2)}
            | {2: page_json(ids(1, 4), 5, 2, 2)},
            "page 0 told total_pages 2, 5 expirations were listed on 3 pages",
            id="pages-too-few",
        ),
        pytest.param(
            {0: page_json(ids(2), 5, 0, 9), 1: page_json(ids(2, 2), 5, 1, 9)}
            | {2: page_json(ids(1, 4), 5, 2, 9)},
            "page 0 told total_pages 9, 5 expirations were listed on 3 pages",
            id="pages-too-many",
        ),
        pytest.param(
            {0: page_json(ids(2), 5, 0, 3), 1: page_json([], 5, 1, 3)},
            "page 0 told total_count 5, 2 expirations were listed",
            id="empty-before-the-total",
        ),
        pytest.param(
            {0: page_json(ids(2), 5, 0, 3), 1: page_json(ids(1, 2), 5, 1, 3)},
            "page 0 told total_count 5, 3 expirations were listed",
            id="short-before-the-last",
        ),
        pytest.param(
            {0: page_json(ids(2), 3, 0, 2), 1: page_json(ids(2, 2), 3, 1, 2)},
            "page 0 told total_count 3, 4 expirations were listed",
            id="more-than-the-total",
        ),
        pytest.param(
            {0: page_json(ids(2), 4, 0, 2), 1: page_json(["SD-1", "SD-2"], 4, 1, 2)},
            "page 0 told total_count 4, 3 expirations were listed",
            id="repeated-result",
        ),
        pytest.param(
            {0: page_json([], 3, 0, 2)},
            "page 0 told total_count 3, 0 expirations were listed",
            id="empty",
        ),
        pytest.param(
            {0: page_json(ids(1), 0, 0, 0)},
            "page 0 told total_count 0, 1 expirations were listed",
            id="results-no-total",
        ),
    ],
)
def test_pages_that_do_not_add_up_twice_are_refused(
    harness: Harness, pages: dict[int, Any], told: str
) -> None:
    harness.adobe.on("GET", TTL, paged(pages))
    with pytest.raises(InvalidResponseError) as caught:
        listed(harness, limit=2)
    assert str(caught.value) == (
        f"GET {TTL}: Adobe's listing contradicts itself: {told}, in 2 listings in a row;"
        " nothing was created because of it"
    )
    once = pages_asked(harness)[: len(pages_asked(harness)) // 2]
    assert pages_asked(harness) == once * 2 and once[0] == "0"


def test_a_server_that_ignores_page_is_caught(harness: Harness) -> None:
    body = page_json(ids(2), 6, 0, 3)
    del body["current_page"]
    harness.adobe.on("GET", TTL, json_response(200, body))
    with pytest.raises(InvalidResponseError, match="page 1 repeats"):
        listed(harness, limit=2)
    assert pages_asked(harness) == ["0", "1", "0", "1"]  # read once more, then refused


def test_a_missing_total_count_is_invalid(harness: Harness) -> None:
    harness.adobe.on("GET", TTL, json_response(200, {"results": [], "total_pages": 0}))
    with pytest.raises(InvalidResponseError, match="'total_count' should be an integer"):
        listed(harness)


def test_a_list_that_grows_while_read_is_read_again(harness: Harness) -> None:
    answers = iter(
        [
            page_json(ids(2), 3, 0, 2),
            page_json(ids(2, 1), 4, 1, 2),  # one was created meanwhile: the pages shifted
            page_json([], 4, 2, 2),
            page_json(["SD-9", "SD-0"], 4, 0, 2),
            page_json(["SD-1", "SD-2"], 4, 1, 2),
            page_json([], 4, 2, 2),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return json_response(200, next(answers))

    harness.adobe.on("GET", TTL, answer)
    found = listed(harness, limit=2)
    assert found == ["SD-9", "SD-0", "SD-1", "SD-2"]  # the listing that added up
    assert pages_asked(harness) == ["0", "1", "2", "0", "1", "2"]


def test_a_total_that_never_settles_is_invalid(harness: Harness) -> None:
    calls = iter(range(100))

    def answer(request: httpx.Request) -> httpx.Response:
        total = 3 + next(calls)
        page = int(request.url.params["page"])
        found = ids(2, 2 * page) if page < 2 else []
        return json_response(200, page_json(found, total, page, (total + 1) // 2))

    harness.adobe.on("GET", TTL, answer)
    with pytest.raises(InvalidResponseError, match="page 0 told total_count 6, 4 expirations"):
        listed(harness, limit=2)
    assert pages_asked(harness) == ["0", "1", "2"] * 2


def test_pages_that_never_end_are_refused(harness: Harness) -> None:
    harness.adobe.on(
        "GET",
        TTL,
        lambda r: json_response(
            200, page_json(ids(2, 2 * int(r.url.params["page"])), 10, int(r.url.params["page"]), 5)
        ),
    )
    with pytest.raises(InvalidResponseError, match="paging did not end after 2 pages"):
        harness.make(max_pages=2).ttl.list_expirations(limit=2)
    assert pages_asked(harness) == ["0", "1", "2"]


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": 101}, {"status": "done"}, {"status": []}, {"status": "unknown"}],
)
def test_bad_filters_are_refused_before_sending(harness: Harness, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        listed(harness, **kwargs)
    assert harness.adobe.requests == []
