from __future__ import annotations

import threading
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler.adobe import AuthenticationError, InvalidResponseError, OutcomeUnknownError

from .conftest import (
    CLIENT_ID,
    HYGIENE,
    IMS,
    SECRET,
    TOKEN,
    Harness,
    json_response,
    work_order_json,
)

WO = f"{HYGIENE}/workorder/DI-1"


def test_token_request_is_the_documented_form(harness: Harness) -> None:
    harness.adobe.on("GET", WO, json_response(200, work_order_json()))
    harness.make().hygiene.get_work_order("DI-1")
    (token_request,) = [r for r in harness.adobe.requests if r.url.path == IMS]
    assert str(token_request.url) == "https://ims.test/ims/token/v3"
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
        "scope": ["openid,AdobeID,read_organizations,additional_info.projectedProductContext"],
    }


def test_token_is_fetched_once_for_many_calls(harness: Harness) -> None:
    harness.adobe.on("GET", WO, json_response(200, work_order_json()))
    client = harness.make()
    for _ in range(5):
        client.hygiene.get_work_order("DI-1")
    assert harness.adobe.token_requests == 1
    assert client.token_fetches == 1
    assert {r.headers["authorization"] for r in harness.adobe.calls()} == {f"Bearer {TOKEN}-1"}


def test_token_is_renewed_before_it_expires(harness: Harness) -> None:
    harness.adobe.expires_in = 3600  # margin: max(60 s, 10%) = 360 s
    harness.adobe.on("GET", WO, json_response(200, work_order_json()))
    client = harness.make()
    client.hygiene.get_work_order("DI-1")
    harness.clock.advance(3000)
    client.hygiene.get_work_order("DI-1")
    assert harness.adobe.token_requests == 1
    harness.clock.advance(300)  # 3300 s in: less than 360 s left
    client.hygiene.get_work_order("DI-1")
    assert harness.adobe.token_requests == 2
    assert harness.adobe.calls()[-1].headers["authorization"] == f"Bearer {TOKEN}-2"


def test_threads_share_one_token_fetch(harness: Harness) -> None:
    harness.adobe.on("GET", WO, json_response(200, work_order_json()))
    client = harness.make(max_concurrency=8)
    threads = [
        threading.Thread(target=client.hygiene.get_work_order, args=("DI-1",)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(harness.adobe.calls()) == 8
    assert harness.adobe.token_requests == 1


def test_401_on_a_get_renews_the_token_and_resends_once(harness: Harness) -> None:
    expired = json_response(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    harness.adobe.on("GET", WO, expired, json_response(200, work_order_json()))
    order = harness.make().hygiene.get_work_order("DI-1")
    assert order.workorder_id == "DI-1"
    gets = harness.adobe.calls("GET")
    assert [r.headers["authorization"] for r in gets] == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]
    assert harness.events == []  # a token renewal is not a retry with a wait


def test_401_on_a_post_is_not_resent(harness: Harness) -> None:
    expired = json_response(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    harness.adobe.on("POST", f"{HYGIENE}/workorder", expired, json_response(201, work_order_json()))
    with pytest.raises(OutcomeUnknownError) as caught:
        harness.make().hygiene.create_work_order(
            dataset_id="ALL",
            display_name="x",
            description="y",
            namespaces_identities={"email": ["a@example.com"]},
        )
    assert caught.value.status == 401
    assert len(harness.adobe.calls("POST")) == 1
    assert harness.adobe.token_requests == 1


def test_401_twice_is_an_authentication_error(harness: Harness) -> None:
    refused = json_response(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    harness.adobe.on("GET", WO, refused)
    with pytest.raises(AuthenticationError) as caught:
        harness.make().hygiene.get_work_order("DI-1")
    assert caught.value.status == 401
    assert "401013" in str(caught.value)
    assert len(harness.adobe.calls()) == 2
    assert harness.adobe.token_requests == 2


def test_ims_refusing_the_credentials_is_an_authentication_error(harness: Harness) -> None:
    harness.adobe.ims = [
        json_response(400, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"})
    ]
    with pytest.raises(AuthenticationError) as caught:
        harness.make().hygiene.get_work_order("DI-1")
    text = str(caught.value)
    assert "invalid_client" in text
    assert SECRET not in text
    assert harness.adobe.calls() == []


def test_ims_outage_is_retried(harness: Harness) -> None:
    harness.adobe.ims = [httpx.Response(503, headers={"retry-after": "2"})]
    harness.adobe.on("GET", WO, json_response(200, work_order_json()))
    harness.make().hygiene.get_work_order("DI-1")
    assert harness.adobe.token_requests == 2
    assert harness.waits == [2.0]


@pytest.mark.parametrize(
    "expires_in",
    [
        pytest.param(86_399_000, id="milliseconds"),
        pytest.param("86399", id="string"),
        pytest.param(True, id="bool"),
        pytest.param(0, id="zero"),
        pytest.param(None, id="missing"),
    ],
)
def test_absurd_token_lifetimes_are_refused(harness: Harness, expires_in: object) -> None:
    harness.adobe.expires_in = expires_in
    with pytest.raises(InvalidResponseError, match="expires_in"):
        harness.make().hygiene.get_work_order("DI-1")


def test_token_that_cannot_be_a_header_is_refused(harness: Harness) -> None:
    harness.adobe.ims = [
        json_response(
            200, {"access_token": "abc\r\nx-evil: 1", "token_type": "bearer", "expires_in": 60}
        )
    ]
    with pytest.raises(InvalidResponseError, match="access_token"):
        harness.make().hygiene.get_work_order("DI-1")
