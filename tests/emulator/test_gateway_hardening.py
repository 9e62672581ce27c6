"""Hostile and malformed requests: deep JSON, oversized bodies, wrong methods, long paths,
loose query parameters, mistyped fields, and clients that hang up early."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator.gateway import MAX_JSON_DEPTH
from reconciler.emulator.hygiene_rules import MAX_DESCRIPTION, MAX_DISPLAY_NAME
from reconciler.emulator.middleware import MAX_BODY_BYTES
from reconciler.emulator.testing import RunningEmulator
from tests.emulator.conftest import HYGIENE, PRIVACY, workorder_body

TOO_DEEP = f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep."
TOO_LARGE = {
    "error_code": "413000",
    "message": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
}
JSON = "application/json"


@pytest.fixture
def plain(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client without the spec check, for statuses Adobe's specs do not list (413)."""
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def _head(method: str, path: str, headers: dict[str, str], **extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: emulator", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in {**headers, **extra}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _exchange(emulator: RunningEmulator, *parts: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes: status, headers, body."""
    with socket.create_connection((emulator.server.host, emulator.server.port), 30) as sock:
        for part in parts:
            sock.sendall(part)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, body


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def _created(http: httpx.Client, headers: dict[str, str]) -> str:
    answer = http.post(f"{HYGIENE}/workorder", json=workorder_body(), headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["workorderId"])


# -- 1. deep JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 1000 + b"]" * 1000, id="arrays-1000"),
        pytest.param(_nested(1000), id="objects-1000"),
        pytest.param(b"[" * 100_000, id="unclosed-100000"),
        pytest.param(_nested(MAX_JSON_DEPTH + 1), id="one-too-deep"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", f"{HYGIENE}/workorder", id="create-workorder"),
        pytest.param("PUT", f"{HYGIENE}/workorder/{{id}}", id="update-workorder"),
        pytest.param("POST", f"{PRIVACY}/jobs", id="create-jobs"),
        pytest.param("POST", f"{PRIVACY}/consent", id="consent"),
    ],
)
def test_deep_json_is_a_400(
    http: httpx.Client, headers: dict[str, str], method: str, path: str, body: bytes
) -> None:
    path = path.replace("{id}", _created(http, headers))
    answer = http.request(method, path, content=body, headers={**headers, "content-type": JSON})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == JSON
    assert answer.json() == {"error_code": "400001", "message": TOO_DEEP}


def test_json_at_the_depth_bound_is_read(http: httpx.Client, headers: dict[str, str]) -> None:
    body = workorder_body(padding=json.loads(_nested(MAX_JSON_DEPTH - 1)))
    assert http.post(f"{HYGIENE}/workorder", json=body, headers=headers).status_code == 200


def test_deep_json_to_the_admin_api_is_a_400(plain: httpx.Client) -> None:
    answer = plain.put("/_emulator/faults", content=b"[" * 1000 + b"]" * 1000)
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "400001", "message": TOO_DEEP}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b'"\\ud800"', id="high"),
        pytest.param(b'"x\\uDFFFy"', id="low"),
        pytest.param(b'"\\ude00\\ud83d"', id="reversed-pair"),
    ],
)
def test_lone_surrogates_are_a_400(
    http: httpx.Client, headers: dict[str, str], text: bytes
) -> None:
    body = json.dumps(workorder_body(displayName="@")).encode().replace(b'"@"', text)
    answer = http.post(
        f"{HYGIENE}/workorder", content=body, headers={**headers, "content-type": JSON}
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "400001"


def test_surrogate_pairs_and_escaped_backslashes_are_text(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    body = json.dumps(workorder_body(displayName="@")).encode()
    body = body.replace(b'"@"', b'"\\ud83d\\ude00 \\\\ud800"')
    answer = http.post(
        f"{HYGIENE}/workorder", content=body, headers={**headers, "content-type": JSON}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["displayName"] == "\U0001f600 \\ud800"


# -- 2. body size ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f"{HYGIENE}/workorder", id="workorder"),
        pytest.param(f"{PRIVACY}/jobs", id="jobs"),
        pytest.param("/ims/token/v3", id="ims"),
        pytest.param("/_emulator/faults", id="admin"),
        pytest.param("/no/such/route", id="unknown-route"),
    ],
)
def test_declared_oversized_body_is_refused_before_it_is_sent(
    emulator: RunningEmulator, headers: dict[str, str], path: str
) -> None:
    length = str(MAX_BODY_BYTES + 1)
    head = _head("POST", path, headers, **{"Content-Type": JSON, "Content-Length": length})
    status, fields, body = _exchange(emulator, head)  # not one byte of the body sent
    assert status == 413
    assert fields["content-type"] == JSON
    assert fields["connection"] == "close"
    assert json.loads(body) == TOO_LARGE


def test_chunked_body_is_refused_once_it_passes_the_bound(
    emulator: RunningEmulator, headers: dict[str, str]
) -> None:
    head = _head(
        "POST",
        f"{HYGIENE}/workorder",
        headers,
        **{"Content-Type": JSON, "Transfer-Encoding": "chunked"},
    )
    mebibyte = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    chunks = [mebibyte] * (MAX_BODY_BYTES // 0x100000) + [b"1\r\n \r\n"]  # no last chunk
    status, fields, body = _exchange(emulator, head, *chunks)
    assert status == 413
    assert json.loads(body) == TOO_LARGE
    assert emulator.admin.workorders() == []


def test_body_of_exactly_the_bound_is_read(
    emulator: RunningEmulator, headers: dict[str, str]
) -> None:
    body = b" " * (MAX_BODY_BYTES - 2) + b"{}"
    head = _head(
        "POST",
        f"{HYGIENE}/workorder",
        headers,
        **{"Content-Type": JSON, "Content-Length": str(len(body))},
    )
    status, _, answer = _exchange(emulator, head, body)
    assert status == 400  # read and parsed: {} is no work order
    assert json.loads(answer)["message"].startswith("Invalid action")


def test_largest_documented_work_order_fits_with_margin(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    # 100,000 identities (Adobe's per-work-order limit) in the verbose form, indented, with
    # 254-character ids (the longest address SMTP allows): the worst case the bound covers.
    identities = [
        {"namespace": {"code": "email"}, "id": f"{i:06d}{'a' * 241}@x.com"} for i in range(100_000)
    ]
    body = json.dumps(workorder_body(datasetId="ALL", identities=identities), indent=2).encode()
    assert len(body) * 1.5 < MAX_BODY_BYTES
    answer = http.post(
        f"{HYGIENE}/workorder", content=body, headers={**headers, "content-type": JSON}
    )
    assert answer.status_code == 200, answer.text[:200]
    assert answer.json()["operationCount"] == 100_000


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        pytest.param("displayName", MAX_DISPLAY_NAME, id="displayName"),
        pytest.param("description", MAX_DESCRIPTION, id="description"),
    ],
)
def test_text_fields_are_bounded_on_create(
    http: httpx.Client, headers: dict[str, str], field: str, limit: int
) -> None:
    at_bound = http.post(
        f"{HYGIENE}/workorder", json=workorder_body(**{field: "é" * limit}), headers=headers
    )
    assert at_bound.status_code == 200
    assert at_bound.json()[field] == "é" * limit
    over = http.post(
        f"{HYGIENE}/workorder", json=workorder_body(**{field: "x" * (limit + 1)}), headers=headers
    )
    assert over.status_code == 400
    assert over.json() == {
        "error_code": "400001",
        "message": f"{field} must be at most {limit} characters.",
    }


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        pytest.param("displayName", MAX_DISPLAY_NAME, id="displayName"),
        pytest.param("name", MAX_DISPLAY_NAME, id="name"),
        pytest.param("description", MAX_DESCRIPTION, id="description"),
    ],
)
def test_text_fields_are_bounded_on_update(
    http: httpx.Client, headers: dict[str, str], field: str, limit: int
) -> None:
    path = f"{HYGIENE}/workorder/{_created(http, headers)}"
    assert http.put(path, json={field: "x" * limit}, headers=headers).status_code == 200
    over = http.put(path, json={field: "x" * (limit + 1)}, headers=headers)
    assert over.status_code == 400
    assert over.json()["message"] == f"{field} must be at most {limit} characters."


def test_a_10_mb_description_never_reaches_the_list(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    body = workorder_body(description="d" * 10_000_000)
    assert http.post(f"{HYGIENE}/workorder", json=body, headers=headers).status_code == 400
    listed = http.get(f"{HYGIENE}/workorder", headers=headers)
    assert listed.json()["total"] == 0
    assert len(listed.content) < 1000


# -- 3. method, route and message shape --------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("DELETE", f"{HYGIENE}/workorder", "GET, HEAD, POST", id="workorders"),
        pytest.param("PATCH", f"{HYGIENE}/workorder/DI-1", "GET, HEAD, PUT", id="workorder"),
        pytest.param("DELETE", f"{HYGIENE}/workorder/", "GET, HEAD, POST", id="slash"),
        pytest.param("POST", f"{HYGIENE}/quota", "GET, HEAD", id="quota"),
        pytest.param("DELETE", f"{HYGIENE}/ttl", "GET, HEAD, POST", id="ttls"),
        pytest.param("PATCH", f"{HYGIENE}/ttl/SD-1", "DELETE, GET, HEAD, PUT", id="ttl"),
        pytest.param("PUT", f"{PRIVACY}/jobs", "GET, HEAD, POST", id="jobs"),
        pytest.param("DELETE", f"{PRIVACY}/jobs/123", "GET, HEAD", id="job"),
        pytest.param("GET", f"{PRIVACY}/consent", "POST", id="consent"),
        pytest.param("GET", "/ims/token/v3", "POST", id="ims"),
        pytest.param("OPTIONS", f"{HYGIENE}/workorder", "GET, HEAD, POST", id="options"),
    ],
)
def test_405_says_which_methods_are_allowed(
    http: httpx.Client, headers: dict[str, str], method: str, path: str, allowed: str
) -> None:
    answer = http.request(method, path, headers=headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    assert answer.headers["content-type"] == JSON
    assert answer.json()["error_code"] == "405000"
    assert allowed in answer.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="root"),
        pytest.param("/data/core/hygiene", id="base"),
        pytest.param(f"{HYGIENE}/workorder/DI-1/extra", id="below-workorder"),
        pytest.param(f"{HYGIENE}/ttl/SD-1/extra", id="below-ttl"),
    ],
)
def test_unknown_route_is_a_json_404(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == JSON
    assert answer.json() == {"error_code": "404000", "message": f"No route for GET {path}."}


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/" + "x" * 100_000, "404000", id="unknown-route"),
        pytest.param(f"{HYGIENE}/workorder/DI-{'x' * 100_000}", "404003", id="workorder-id"),
    ],
)
def test_404_does_not_echo_a_100_kb_path(
    emulator: RunningEmulator, headers: dict[str, str], path: str, code: str
) -> None:
    status, fields, body = _exchange(emulator, _head("GET", path, headers))
    assert status == 404
    assert fields["content-type"] == JSON
    error = json.loads(body)
    assert error["error_code"] == code
    assert len(error["message"]) < 120
    assert "x" * 40 + "…" in error["message"]


# -- 4. the list query -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("type=AAA", id="unknown-type"),
        pytest.param("type=IDENTITY-DELETE", id="type-case"),
        pytest.param("type=delete_identity", id="type-request-spelling"),
        pytest.param("page=%EF%BC%91", id="page-fullwidth"),
        pytest.param("page=1_0", id="page-underscore"),
        pytest.param("page=%201", id="page-padded"),
        pytest.param("page=-0", id="page-signed"),
        pytest.param("limit=%2010%20", id="limit-padded"),
        pytest.param("limit=1_0", id="limit-underscore"),
        pytest.param("limit=%2B5", id="limit-plus"),
        pytest.param("limit=%D9%A5", id="limit-arabic-indic"),
        pytest.param("limit=1e1", id="limit-exponent"),
        pytest.param("limit=0000000000010", id="limit-13-digits"),
        pytest.param("orderBy=++--createdAt", id="order-signs"),
        pytest.param("orderBy=%2B%2BcreatedAt", id="order-double-plus"),
        pytest.param("orderBy=--createdAt", id="order-double-minus"),
        pytest.param("orderBy=%2B-createdAt", id="order-plus-minus"),
        pytest.param("orderBy=createdAt-", id="order-trailing-sign"),
        pytest.param("orderBy=-createdAt%20", id="order-trailing-space"),
        pytest.param("orderBy=-datasetName", id="order-spec-example"),
        pytest.param("filterDate=2024-01-01garbage", id="filter-trailing"),
        pytest.param("filterDate=2024-01-01T00:00:00Z", id="filter-time"),
        pytest.param("filterDate=20240101", id="filter-basic"),
        pytest.param("filterDate=2024-02-30", id="filter-no-such-day"),
        pytest.param("filterDate=10000-01-01", id="filter-year-10000"),
        pytest.param("filterDate=0000-01-01", id="filter-year-0"),
        pytest.param("filterDate=%EF%BC%92024-01-01", id="filter-fullwidth"),
        pytest.param("fromDate=2024-01-01&toDate=2024-01-01xyz", id="to-trailing"),
        pytest.param("fromDate=2024-W01-1&toDate=2024-W01-2", id="week-dates"),
        pytest.param("fromDate=20240101&toDate=20240102", id="basic-dates"),
        pytest.param("fromDate=2024-01-01T24:00&toDate=2024-01-02", id="hour-24"),
        pytest.param("fromDate=2024-01-01T00:00:00.1234567Z&toDate=2024-01-02", id="7-digits"),
        pytest.param("fromDate=2024-01-01T00:00%2B1400&toDate=2024-01-02", id="offset-no-colon"),
        pytest.param("fromDate=10000-01-01&toDate=10000-01-02", id="year-10000"),
    ],
)
def test_loose_list_queries_are_400(
    http: httpx.Client, headers: dict[str, str], query: str
) -> None:
    answer = http.get(f"{HYGIENE}/workorder?{query}", headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == JSON
    assert answer.json()["error_code"] == "400001"


@pytest.mark.parametrize(
    ("query", "total"),
    [
        pytest.param("type=identity-delete", 1, id="type"),
        pytest.param("page=0&limit=100", 1, id="page-limit"),
        pytest.param("limit=", 1, id="limit-empty"),
        pytest.param("orderBy=%2BcreatedAt", 1, id="order-plus"),
        pytest.param("orderBy=+createdAt", 1, id="order-plus-as-space"),
        pytest.param("orderBy=-createdAt", 1, id="order-minus"),
        pytest.param("orderBy=createdAt", 1, id="order-bare"),
        pytest.param("filterDate=0001-01-01", 0, id="filter-year-1"),
        pytest.param("filterDate=9999-12-31", 0, id="filter-year-9999"),
        pytest.param("fromDate=0001-01-01&toDate=9999-12-31", 1, id="widest-days"),
        pytest.param(
            "fromDate=0001-01-01T00:00:00%2B14:00&toDate=9999-12-31T23:59:59.999999-14:00",
            1,
            id="widest-times",
        ),
        pytest.param("fromDate=2000-01-01T00:00&toDate=2099-01-01T00:00:00Z", 1, id="times"),
        pytest.param("fromDate=2000-01-01T00:00+01:00&toDate=2099-01-01", 1, id="plus-as-space"),
        pytest.param("fromDate=2000-01-01&toDate=2000-01-01", 0, id="one-day"),
    ],
)
def test_strict_list_queries_still_accept_the_documented_forms(
    http: httpx.Client, headers: dict[str, str], query: str, total: int
) -> None:
    _created(http, headers)
    answer = http.get(f"{HYGIENE}/workorder?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == total


# -- 5. field types ----------------------------------------------------------------

_EMAIL = {"code": "email"}


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"displayName": None}, id="displayName-null"),
        pytest.param({"description": None}, id="description-null"),
        pytest.param({"displayName": 5}, id="displayName-number"),
        pytest.param({"description": ["x"]}, id="description-array"),
        pytest.param({"action": None}, id="action-null"),
        pytest.param({"action": ["delete_identity"]}, id="action-array"),
        pytest.param({"datasetId": None}, id="datasetId-null"),
        pytest.param({"datasetId": ["ALL"]}, id="datasetId-array"),
        pytest.param({"datasetId": ""}, id="datasetId-empty"),
        pytest.param({"datasetId": "x" * 257}, id="datasetId-long"),
        pytest.param({"targetServices": None}, id="services-null"),
        pytest.param({"targetServices": "profile"}, id="services-string"),
        pytest.param({"targetServices": []}, id="services-empty"),
        pytest.param({"targetServices": ["profile", "profile"]}, id="services-repeated"),
        pytest.param({"targetServices": ["nope"]}, id="services-unknown"),
        pytest.param({"targetServices": [["profile"]]}, id="services-nested"),
        pytest.param({"targetServices": [None]}, id="services-null-item"),
        pytest.param({"identities": "a@x.io"}, id="identities-string"),
        pytest.param({"identities": {"id": "a@x.io"}}, id="identities-object"),
        pytest.param({"identities": [1]}, id="identity-number"),
        pytest.param({"identities": [{"namespace": "email", "id": "a"}]}, id="namespace-string"),
        pytest.param({"identities": [{"namespace": {"code": None}, "id": "a"}]}, id="code-null"),
        pytest.param({"identities": [{"namespace": {"code": ""}, "id": "a"}]}, id="code-empty"),
        pytest.param({"identities": [{"namespace": _EMAIL, "id": None}]}, id="id-null"),
        pytest.param({"identities": [{"namespace": _EMAIL, "id": 7}]}, id="id-number"),
        pytest.param(
            {"identities": None, "namespacesIdentities": [{"namespace": _EMAIL, "IDs": "a"}]},
            id="IDs-string",
        ),
        pytest.param(
            {"identities": None, "namespacesIdentities": [{"namespace": _EMAIL, "IDs": [None]}]},
            id="IDs-null-item",
        ),
        pytest.param(
            {"identities": None, "namespacesIdentities": [{"namespace": _EMAIL, "ids": [3]}]},
            id="ids-number-item",
        ),
        pytest.param({"identities": None, "namespacesIdentities": {}}, id="grouped-object"),
    ],
)
def test_mistyped_create_fields_are_400(
    http: httpx.Client, headers: dict[str, str], changes: dict[str, Any]
) -> None:
    body = workorder_body(**changes)
    answer = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == JSON
    assert set(answer.json()) == {"error_code", "message"}
    assert answer.json()["error_code"] == "400001"


def test_an_identity_form_sent_as_null_counts_as_absent(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    grouped = [{"namespace": _EMAIL, "IDs": ["a@example.com"]}]
    body = workorder_body(identities=None, namespacesIdentities=grouped)
    answer = http.post(f"{HYGIENE}/workorder", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": None, "description": "z"}, id="name-null"),
        pytest.param({"displayName": None, "name": "n"}, id="displayName-null"),
        pytest.param({"displayName": "n", "description": None}, id="description-null"),
        pytest.param({"name": 5}, id="name-number"),
        pytest.param({"description": {"text": "z"}}, id="description-object"),
        pytest.param({}, id="nothing"),
        pytest.param({"datasetId": "ALL"}, id="other-field"),
        pytest.param([{"name": "n"}], id="array-body"),
        pytest.param("n", id="string-body"),
    ],
)
def test_mistyped_update_fields_are_400(
    http: httpx.Client, headers: dict[str, str], body: Any
) -> None:
    workorder_id = _created(http, headers)
    answer = http.put(f"{HYGIENE}/workorder/{workorder_id}", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "400001"
    unchanged = http.get(f"{HYGIENE}/workorder/{workorder_id}", headers=headers).json()
    assert unchanged["displayName"] == workorder_body()["displayName"]


# -- 6. the action's spellings -----------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status"),
    [
        pytest.param("delete_identity", 200, id="spec"),
        pytest.param("delete-identity", 200, id="newer-guide"),
        pytest.param("identity-delete", 400, id="response-spelling"),
        pytest.param("DELETE_IDENTITY", 400, id="upper-case"),
        pytest.param("delete identity", 400, id="space"),
    ],
)
def test_request_action_spellings(
    http: httpx.Client, headers: dict[str, str], action: str, status: int
) -> None:
    answer = http.post(f"{HYGIENE}/workorder", json=workorder_body(action=action), headers=headers)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json()["action"] == "identity-delete"


# -- 7. clients that hang up -------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"", id="headers-only"),
        pytest.param(json.dumps(workorder_body()).encode()[:40], id="half-body"),
    ],
)
def test_client_leaving_mid_request_is_no_traceback(
    emulator: RunningEmulator,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    sent: bytes,
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.emulator.middleware")
    head = _head(
        "POST", f"{HYGIENE}/workorder", headers, **{"Content-Type": JSON, "Content-Length": "500"}
    )
    with socket.create_connection((emulator.server.host, emulator.server.port), 30) as sock:
        sock.sendall(head + sent)
    _wait_for(lambda: any("went away" in r.getMessage() for r in caplog.records))
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert emulator.admin.workorders() == []


def test_client_leaving_mid_response_is_no_traceback(
    emulator: RunningEmulator,
    http: httpx.Client,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(25):
        body = workorder_body(description="d" * MAX_DESCRIPTION)
        assert http.post(f"{HYGIENE}/workorder", json=body, headers=headers).status_code == 200
    head = _head("GET", f"{HYGIENE}/workorder", headers)
    with socket.create_connection((emulator.server.host, emulator.server.port), 30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(head)
        sock.recv(100)
    _wait_for(lambda: any(r["method"] == "GET" for r in emulator.admin.requests()))
    time.sleep(0.1)  # past the last write of the answer
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
