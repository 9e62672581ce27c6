"""A scripted fake of Adobe's gateway and IMS, routed on ``request.url.path``, and a fake clock."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from reconciler.adobe import AdobeClient, AdobeConfig, RetryEvent

SECRET = "canary-secret-5f3a9c"
CLIENT_ID = "canary-client-id-77"
TOKEN = "token-canary-abc"
EMAIL = "canary.person@example.com"
TODAY = date(2026, 6, 15)

HYGIENE = "/data/core/hygiene"
PRIVACY = "/data/core/privacy"
IMS = "/ims/token/v3"

Responder = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """Monotonic time that only moves when something sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )


def work_order_json(workorder_id: str = "DI-1", **changes: Any) -> dict[str, Any]:
    data = {
        "workorderId": workorder_id,
        "orgId": "ORG@AdobeOrg",
        "bundleId": "BN-1",
        "action": "identity-delete",
        "createdAt": "2026-06-01T10:00:00.000Z",
        "updatedAt": "2026-06-01T10:00:05.000Z",
        "operationCount": 1,
        "targetServices": ["profile", "datalake", "identity"],
        "status": "received",
        "createdBy": "tech@example.com <tech@example.com> ABC@techacct.adobe.com",
        "datasetId": "c48b51623ec641a2949d339bad69cb15",
        "datasetName": "Loyalty",
        "displayName": "Example",
        "description": "jira-12345",
    }
    data.update(changes)
    return data


TTL = f"{HYGIENE}/ttl"
DATASET = "3e9f815ae1194c65b2a4c5ea"
TTL_ID = "SD-2aaf113e-3f17-4321-bf29-a2c51152b042"


def expiration_json(ttl_id: str = TTL_ID, **changes: Any) -> dict[str, Any]:
    """The spec's CreateTTLResponse example."""
    data: dict[str, Any] = {
        "ttlId": ttl_id,
        "datasetId": DATASET,
        "datasetName": "Acme_Customer_Data",
        "sandboxName": "acme-prod",
        "displayName": "Expiry rule for Acme customers",
        "description": "Set expiration for Acme customer dataset",
        "imsOrg": "C9D8E7F6A5B41234567890AB@AcmeOrg",
        "status": "pending",
        "expiry": "2030-12-31T00:00:00Z",
        "updatedAt": "2029-01-02T10:35:45.000Z",
        "updatedBy": "s.stark@acme.com <s.stark@acme.com> 3E9F815AE1194C65B2A4C5EA@acme.com",
    }
    data.update(changes)
    return data


def page_json(ids: list[str], total: int, page: int, pages: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "results": [expiration_json(i, datasetId=f"ds{i[3:]}") for i in ids],
        "current_page": page,
        "total_count": total,
    }
    if pages is not None:
        body["total_pages"] = pages
    return body


def paged(pages: dict[int, Any]) -> Any:
    """A responder answering ``GET /ttl`` from ``pages`` (by the ``page`` asked for); past
    them, an empty page with the last one's totals."""
    last = pages[max(pages)]

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        body = pages.get(page)
        if body is None:
            body = page_json([], last["total_count"], page, last.get("total_pages"))
        return json_response(200, body(page) if callable(body) else body)

    return answer


@dataclass
class FakeAdobe:
    """Answers IMS itself; other routes from scripts (popped in order, the last repeats)."""

    expires_in: Any = 86399
    ims: list[Responder] = field(default_factory=list)
    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    token_requests: int = 0
    tokens_issued: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, path: str, *responders: Responder) -> None:
        self.routes[(method, path)] = list(responders)

    def calls(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.path != IMS
            and (method is None or r.method == method)
            and (path is None or r.url.path == path)
        ]

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            if request.url.path == IMS:
                self.token_requests += 1
                responder: Responder | None = self.ims.pop(0) if self.ims else None
                if responder is None:
                    self.tokens_issued += 1
                    body = {
                        "access_token": f"{TOKEN}-{self.tokens_issued}",
                        "token_type": "bearer",
                        "expires_in": self.expires_in,
                    }
                    return json_response(200, body)
            else:
                script = self.routes.get((request.method, request.url.path))
                if not script:
                    return json_response(404, {"error_code": "404000", "message": "no route"})
                responder = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(responder, Exception):
            raise responder
        if callable(responder):
            return responder(request)
        return responder


@dataclass
class Harness:
    adobe: FakeAdobe
    clock: FakeClock
    events: list[RetryEvent]
    make: Callable[..., AdobeClient]

    @property
    def waits(self) -> list[float]:
        return [event.wait for event in self.events]


def make_config(**changes: Any) -> AdobeConfig:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "org_id": "ORG@AdobeOrg",
        "sandbox_name": "prod",
        "ims_url": "https://ims.test",
        "platform_url": "https://platform.test",
        "requests_per_second": 1000.0,
        "max_retries": 3,
    }
    values.update(changes)
    return AdobeConfig(**values)


@pytest.fixture
def harness() -> Harness:
    adobe = FakeAdobe()
    clock = FakeClock()
    events: list[RetryEvent] = []

    def make(**changes: Any) -> AdobeClient:
        return AdobeClient(
            make_config(**changes),
            transport=httpx.MockTransport(adobe.handler),
            sleep=clock.sleep,
            clock=clock,
            today=lambda: TODAY,
            rng=random.Random(7),
            on_retry=events.append,
        )

    return Harness(adobe=adobe, clock=clock, events=events, make=make)
