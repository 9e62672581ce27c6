"""The request core, through the public API: headers, retries, errors, untrusted answers."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from reconciler.adobe import (
    AdobeError,
    ApiError,
    AuthenticationError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconciler.errors import ReconcilerError

from .conftest import (
    CLIENT_ID,
    EMAIL,
    HYGIENE,
    PRIVACY,
    SECRET,
    TOKEN,
    FakeClock,
    Harness,
    json_response,
    work_order_json,
)

WO = f"{HYGIENE}/workorder/DI-1"
CREATE = f"{HYGIENE}/workorder"
OK = json_response(200, work_order_json())
CREATED = json_response(201, work_order_json())


def create(harness: Harness, **changes: object) -> object:
    return harness.make(**changes).hygiene.create_work_order(
        dataset_id="ALL",
        display_name="Example",
        description="jira-12345",
        namespaces_identities={"email": [EMAIL]},
    )


# --- headers ---


def test_data_hygiene_headers(harness: Harness) -> None:
    harness.adobe.on("PUT", WO, OK)
    harness.make().hygiene.update_work_order("DI-1", display_name="Example")
    (request,) = harness.adobe.calls()
    assert request.headers["authorization"] == f"Bearer {TOKEN}-1"
    assert request.headers["x-api-key"] == CLIENT_ID
    assert request.headers["x-gw-ims-org-id"] == "ORG@AdobeOrg"
    assert request.headers["x-sandbox-name"] == "prod"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("reconciler/")
    uuid.UUID(request.headers["x-request-id"])
    assert json.loads(request.content) == {"displayName": "Example"}


def test_privacy_service_has_no_sandbox_and_get_has_no_content_type(harness: Harness) -> None:
    harness.adobe.on("GET", f"{PRIVACY}/jobs/job-1", json_response(200, {"jobId": "job-1"}))
    harness.make().privacy.get_privacy_job("job-1")
    (request,) = harness.adobe.calls()
    assert "x-sandbox-name" not in request.headers
    assert "content-type" not in request.headers
    assert request.headers["x-gw-ims-org-id"] == "ORG@AdobeOrg"
    assert request.url.host == "platform.test"


def test_request_id_is_kept_across_retries_and_new_per_call(harness: Harness) -> None:
    harness.adobe.on("GET", WO, httpx.Response(503), OK)
    client = harness.make()
    client.hygiene.get_work_order("DI-1")
    client.hygiene.get_work_order("DI-1")
    ids = [r.headers["x-request-id"] for r in harness.adobe.calls()]
    assert len(ids) == 3
    assert ids[0] == ids[1] != ids[2]


# --- retries of idempotent calls ---


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_retries_and_honours_retry_after(harness: Harness, status: int) -> None:
    harness.adobe.on(
        "GET",
        WO,
        httpx.Response(status, headers={"retry-after": "3"}),
        httpx.Response(status, headers={"retry-after": "1.5"}),
        OK,
    )
    assert harness.make().hygiene.get_work_order("DI-1").workorder_id == "DI-1"
    assert harness.waits == [3.0, 1.5]
    assert [e.attempt for e in harness.events] == [1, 2]


def test_put_retries_connection_failures_with_growing_backoff(harness: Harness) -> None:
    harness.adobe.on(
        "PUT",
        WO,
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(502),
        OK,
    )
    client = harness.make(max_retries=5, backoff_base=1.0)
    client.hygiene.update_work_order("DI-1", description="jira-12345")
    assert len(harness.adobe.calls()) == 4
    first, second, third = harness.waits
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert 2.0 <= third <= 4.0


def test_retry_after_is_capped(harness: Harness) -> None:
    harness.adobe.on("GET", WO, httpx.Response(429, headers={"retry-after": "86400"}), OK)
    harness.make(max_retry_after=120.0).hygiene.get_work_order("DI-1")
    assert harness.waits == [120.0]


@pytest.mark.parametrize(
    ("responder", "error", "retries"),
    [
        (httpx.Response(503), ServerError, 3),
        (httpx.Response(429), ThrottledError, 3),
        (httpx.ConnectError("refused"), TransportError, 3),
        (httpx.ReadError("reset"), TransportError, 3),
    ],
)
def test_get_gives_up_after_max_retries(
    harness: Harness, responder: httpx.Response | Exception, error: type[AdobeError], retries: int
) -> None:
    harness.adobe.on("GET", WO, responder)
    with pytest.raises(error):
        harness.make(max_retries=retries).hygiene.get_work_order("DI-1")
    assert len(harness.adobe.calls()) == retries + 1


def test_a_connection_failure_names_the_origin_it_tried_and_nothing_more(
    harness: Harness,
) -> None:
    harness.adobe.on("GET", WO, httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as caught:
        harness.make(max_retries=0).hygiene.get_work_order("DI-1")
    message = str(caught.value)
    assert "could not connect to https://platform.test (ConnectError)" in message
    assert "refused" not in message


def test_call_deadline_stops_retrying(harness: Harness) -> None:
    harness.adobe.on("GET", WO, httpx.Response(503, headers={"retry-after": "100"}))
    with pytest.raises(ServerError):
        harness.make(max_retries=10, call_deadline=150.0).hygiene.get_work_order("DI-1")
    assert len(harness.adobe.calls()) == 2
    assert harness.waits == [100.0]


# --- POST: exactly once ---


def test_post_answered_429_is_an_unknown_outcome_not_resent(harness: Harness) -> None:
    throttled = json_response(
        429, {"error_code": "429001", "message": "Too many requests"}, {"retry-after": "5"}
    )
    harness.adobe.on("POST", CREATE, throttled, CREATED)
    with pytest.raises(OutcomeUnknownError) as caught:
        create(harness)
    assert len(harness.adobe.calls("POST")) == 1
    assert harness.waits == []
    error = caught.value
    assert (error.status, error.attempts) == (429, 1)
    assert error.reason == "answered 429 (error_code 429001)"
    assert "answered 429 (error_code 429001)" in str(error)
    assert isinstance(error.__cause__, ThrottledError)


def test_post_answered_401_drops_the_token_and_is_not_resent(harness: Harness) -> None:
    refused = json_response(401, {"error_code": "401013", "message": "Oauth token is not valid"})
    harness.adobe.on("POST", CREATE, refused, CREATED)
    client = harness.make()
    with pytest.raises(OutcomeUnknownError) as caught:
        client.hygiene.create_work_order(
            dataset_id="ALL",
            display_name="Example",
            description="jira-12345",
            namespaces_identities={"email": [EMAIL]},
        )
    assert (caught.value.status, caught.value.reason) == (401, "answered 401 (error_code 401013)")
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert len(harness.adobe.calls("POST")) == 1
    harness.adobe.on("GET", WO, OK)
    client.hygiene.get_work_order("DI-1")  # the look-up the caller makes next
    sent = [r.headers["authorization"] for r in harness.adobe.calls()]
    assert sent == [f"Bearer {TOKEN}-1", f"Bearer {TOKEN}-2"]


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")],
    ids=["connect-error", "connect-timeout", "pool-timeout"],
)
def test_post_is_retried_when_it_certainly_was_not_sent(
    harness: Harness, failure: Exception
) -> None:
    harness.adobe.on("POST", CREATE, failure, CREATED)
    create(harness)
    assert len(harness.adobe.calls("POST")) == 2


@pytest.mark.parametrize(
    ("responder", "status"),
    [
        (httpx.Response(500), 500),
        (httpx.Response(502), 502),
        (httpx.Response(503, headers={"retry-after": "1"}), 503),
        (httpx.Response(504), 504),
        (httpx.ReadError("connection reset"), None),
        (httpx.ReadTimeout("timed out"), None),
        (httpx.RemoteProtocolError("server disconnected"), None),
        (httpx.WriteError("broken pipe"), None),
    ],
)
def test_post_with_unknown_outcome_is_not_retried(
    harness: Harness, responder: httpx.Response | Exception, status: int | None
) -> None:
    harness.adobe.on("POST", CREATE, responder, CREATED)
    with pytest.raises(OutcomeUnknownError) as caught:
        create(harness)
    assert len(harness.adobe.calls("POST")) == 1
    error = caught.value
    assert error.status == status
    assert error.method == "POST" and error.path == CREATE
    assert error.attempts == 1
    assert error.request_id == harness.adobe.calls("POST")[0].headers["x-request-id"]
    assert EMAIL not in str(error)
    assert isinstance(error, ReconcilerError)


def test_post_retried_after_a_connect_failure_then_unknown_counts_attempts(
    harness: Harness,
) -> None:
    harness.adobe.on("POST", CREATE, httpx.ConnectError("refused"), httpx.Response(502))
    with pytest.raises(OutcomeUnknownError) as caught:
        create(harness)
    assert (caught.value.attempts, caught.value.status) == (2, 502)


def test_post_answer_that_cannot_be_read_is_an_unknown_outcome(harness: Harness) -> None:
    harness.adobe.on(
        "POST",
        CREATE,
        httpx.Response(201, content=b"{not json", headers={"content-type": "application/json"}),
    )
    with pytest.raises(OutcomeUnknownError) as caught:
        create(harness)
    assert isinstance(caught.value.__cause__, InvalidResponseError)
    assert len(harness.adobe.calls("POST")) == 1


# --- error answers ---


def test_400_is_not_retried_and_carries_adobe_error(harness: Harness) -> None:
    body = {"error_code": "400001", "message": "Identities are Empty for Delete Identity request."}
    harness.adobe.on("POST", CREATE, json_response(400, body))
    with pytest.raises(ApiError) as caught:
        create(harness)
    error = caught.value
    assert type(error) is ApiError
    assert (error.status, error.error_code) == (400, "400001")
    assert "400001" in str(error) and "Identities are Empty" in str(error)
    assert len(harness.adobe.calls()) == 1
    assert harness.events == []


def test_platform_problem_bodies_are_understood(harness: Harness) -> None:
    body = {
        "type": "http://ns.adobe.com/aep/errors/HYGN-3102-400",
        "status": 400,
        "title": "Invalid parameters",
        "detail": "fromDate requires toDate",
    }
    harness.adobe.on("GET", f"{HYGIENE}/workorder", json_response(400, body))
    with pytest.raises(ApiError) as caught:
        harness.make().hygiene.list_work_orders()
    assert caught.value.error_code == "HYGN-3102-400"
    assert caught.value.message == "fromDate requires toDate"


def test_404_is_not_found(harness: Harness) -> None:
    harness.adobe.on(
        "GET", WO, json_response(404, {"error_code": "404003", "message": "not found"})
    )
    with pytest.raises(NotFoundError):
        harness.make().hygiene.get_work_order("DI-1")


def test_403_is_an_authentication_error_without_retry(harness: Harness) -> None:
    harness.adobe.on(
        "GET", WO, json_response(403, {"error_code": "403003", "message": "Api Key is invalid"})
    )
    with pytest.raises(AuthenticationError, match="403003"):
        harness.make().hygiene.get_work_order("DI-1")
    assert len(harness.adobe.calls()) == 1


def test_server_messages_are_truncated_and_stripped(harness: Harness) -> None:
    message = "bad\x1b[31m thing\u202e\n" + "x" * 1000
    harness.adobe.on("GET", WO, json_response(400, {"error_code": "4\n00", "message": message}))
    with pytest.raises(ApiError) as caught:
        harness.make().hygiene.get_work_order("DI-1")
    error = caught.value
    assert error.error_code is None  # not a plain code: dropped
    assert error.message is not None
    assert len(error.message) <= 300
    assert (
        "\x1b" not in error.message and "\u202e" not in error.message and "\n" not in error.message
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b"[1, 2]", b'{"message": 12}', b"\xff\xfe"],
)
def test_unreadable_error_bodies_still_give_our_error(harness: Harness, body: bytes) -> None:
    harness.adobe.on("GET", WO, httpx.Response(418, content=body))
    with pytest.raises(ApiError) as caught:
        harness.make().hygiene.get_work_order("DI-1")
    assert caught.value.status == 418


# --- untrusted success answers ---


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (
            httpx.Response(
                200, content=b'{"workorderId": ', headers={"content-type": "application/json"}
            ),
            "not valid JSON",
        ),
        (
            httpx.Response(
                200, content=b"[" * 100_000, headers={"content-type": "application/json"}
            ),
            "not valid JSON",
        ),
        (
            httpx.Response(
                200, content=b'{"n": NaN}', headers={"content-type": "application/json"}
            ),
            "not valid JSON",
        ),
        (
            httpx.Response(
                200, content=b"\xff\xfe{}", headers={"content-type": "application/json"}
            ),
            "not valid JSON",
        ),
        (httpx.Response(200, content=b"{}", headers={"content-type": "text/html"}), "text/html"),
        (httpx.Response(200, content=b"{}"), "expected a JSON answer"),
        (
            httpx.Response(200, content=b"", headers={"content-type": "application/json"}),
            "empty body",
        ),
        (
            httpx.Response(302, headers={"location": "https://elsewhere.test/"}),
            "unexpected status 302",
        ),
        (json_response(200, ["not", "an", "object"]), "expected an object"),
        (json_response(200, work_order_json(status=7)), "'status' should be a string, got int"),
        (
            json_response(200, work_order_json(operationCount="3")),
            "'operationCount' should be an integer",
        ),
        (
            json_response(200, work_order_json(targetServices="profile")),
            "'targetServices' should be a list",
        ),
        (json_response(200, work_order_json(productStatusDetails=[1])), "expected an object"),
        (
            json_response(200, work_order_json(workorderId="../../ims/token")),
            "not a well-formed id",
        ),
        (json_response(200, work_order_json(workorderId="DI-1?x=1")), "not a well-formed id"),
        (
            json_response(200, {"status": "received"}),
            "'workorderId' should be a string, got nothing",
        ),
    ],
)
def test_untrusted_answers_give_invalid_response_error(
    harness: Harness, response: httpx.Response, match: str
) -> None:
    harness.adobe.on("GET", WO, response)
    with pytest.raises(InvalidResponseError, match=match.replace("?", r"\?")):
        harness.make().hygiene.get_work_order("DI-1")
    assert len(harness.adobe.calls()) == 1  # not worth retrying


def test_body_cap_by_declared_length(harness: Harness) -> None:
    body = json.dumps(work_order_json(description="x" * 5000)).encode()
    harness.adobe.on(
        "GET", WO, httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    with pytest.raises(InvalidResponseError, match="too large"):
        harness.make(max_response_bytes=4096).hygiene.get_work_order("DI-1")


class EndlessStream(httpx.SyncByteStream):
    """A body that never ends; each chunk moves the fake clock by ``step`` seconds."""

    def __init__(self, clock: FakeClock, chunk: bytes, step: float = 0.0) -> None:
        self.clock = clock
        self.chunk = chunk
        self.step = step
        self.chunks_sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.clock.advance(self.step)
            self.chunks_sent += 1
            yield self.chunk


def test_body_cap_while_streaming_without_length(harness: Harness) -> None:
    stream = EndlessStream(harness.clock, b"x" * 1024)
    harness.adobe.on(
        "GET", WO, httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)
    )
    with pytest.raises(InvalidResponseError, match="too large"):
        harness.make(max_response_bytes=64 * 1024).hygiene.get_work_order("DI-1")
    assert stream.chunks_sent == 65  # reading stopped just past the cap


def test_slow_endless_stream_hits_the_deadline(harness: Harness) -> None:
    streams: list[EndlessStream] = []

    def trickle(request: httpx.Request) -> httpx.Response:
        streams.append(EndlessStream(harness.clock, b" ", step=1.0))
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=streams[-1])

    harness.adobe.on("GET", WO, trickle)
    client = harness.make(attempt_deadline=20.0, call_deadline=50.0, max_retries=10)
    with pytest.raises(TransportError, match="deadline"):
        client.hygiene.get_work_order("DI-1")
    # Each attempt is cut off after ~20 s; the call deadline (50 s) allows three of them.
    assert [s.chunks_sent for s in streams] == [21, 21, 21]


def test_slow_stream_after_a_post_is_an_unknown_outcome(harness: Harness) -> None:
    stream = EndlessStream(harness.clock, b" ", step=1.0)
    harness.adobe.on(
        "POST",
        CREATE,
        httpx.Response(201, headers={"content-type": "application/json"}, stream=stream),
    )
    with pytest.raises(OutcomeUnknownError, match="deadline"):
        create(harness, attempt_deadline=10.0)


class TruncatedStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"workorderId": "DI-1", '
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


def test_truncated_body_is_retried_for_get(harness: Harness) -> None:
    truncated = httpx.Response(
        200, headers={"content-type": "application/json"}, stream=TruncatedStream()
    )
    harness.adobe.on("GET", WO, truncated, OK)
    assert harness.make().hygiene.get_work_order("DI-1").workorder_id == "DI-1"
    assert len(harness.adobe.calls()) == 2


def test_no_httpx_exception_escapes(harness: Harness) -> None:
    failures: list[Exception] = [
        httpx.ConnectError("x"),
        httpx.ReadError("x"),
        httpx.RemoteProtocolError("x"),
        httpx.UnsupportedProtocol("x"),
        httpx.LocalProtocolError("x"),
        httpx.ProxyError("x"),
        httpx.DecodingError("x"),
    ]
    for failure in failures:
        harness.adobe.on("GET", WO, failure)
        with pytest.raises(AdobeError) as caught:
            harness.make(max_retries=0).hygiene.get_work_order("DI-1")
        assert not isinstance(caught.value, httpx.HTTPError)
        assert isinstance(caught.value.__cause__, httpx.HTTPError)


# --- secrets and identities ---


def test_no_secret_or_identity_in_logs_or_errors(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = json_response(400, {"error_code": "400002", "message": f"invalid id {EMAIL} ({SECRET})"})
    harness.adobe.on("POST", CREATE, httpx.ConnectError(f"refused {EMAIL}"), echo)
    with pytest.raises(ApiError) as first:
        create(harness)
    harness.adobe.on("POST", CREATE, httpx.ReadError(f"reset while sending {EMAIL}"))
    with pytest.raises(OutcomeUnknownError) as second:
        create(harness)
    texts = [str(first.value), repr(first.value), str(second.value), repr(second.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("POST" in record.getMessage() for record in caplog.records)
    for text in texts:
        for canary in (SECRET, EMAIL, TOKEN):
            assert canary not in text, text
    assert "[redacted]" in str(first.value)


def test_identities_echoed_in_privacy_errors_are_redacted(harness: Harness) -> None:
    loyalty_id = "LOYALTY-998877"
    echo = json_response(400, {"message": f"unknown id {loyalty_id}"})
    harness.adobe.on("POST", f"{PRIVACY}/jobs", echo)
    with pytest.raises(ApiError) as caught:
        harness.make().privacy.create_privacy_job(
            regulation="gdpr",
            include=["analytics"],
            users=[
                {
                    "key": "req-1",
                    "action": ["delete"],
                    "userIDs": [
                        {"namespace": "loyalty", "value": loyalty_id, "type": "integrationCode"}
                    ],
                }
            ],
        )
    assert loyalty_id not in str(caught.value)


# --- limits ---


def test_concurrency_is_bounded_by_the_semaphore(harness: Harness) -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    full = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 3:
                full.set()
        full.wait(timeout=2)  # hold the slot until three calls overlap
        with lock:
            in_flight -= 1
        return json_response(200, work_order_json())

    harness.adobe.on("GET", WO, slow)
    client = harness.make(max_concurrency=3)
    threads = [
        threading.Thread(target=client.hygiene.get_work_order, args=("DI-1",)) for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(harness.adobe.calls()) == 10
    assert peak == 3


def test_client_side_rate_spaces_calls(harness: Harness) -> None:
    harness.adobe.on("GET", WO, OK)
    client = harness.make(requests_per_second=2.0)
    for _ in range(3):
        client.hygiene.get_work_order("DI-1")
    assert harness.clock.sleeps == [0.5, 0.5]
    assert harness.events == []
