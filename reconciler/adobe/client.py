"""The entry point: ``AdobeClient`` wires settings, HTTP, tokens and limits together."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TypeVar

import httpx

from reconciler.adobe.config import AdobeConfig
from reconciler.adobe.hygiene import HygieneApi
from reconciler.adobe.limits import CallResult, run_concurrently
from reconciler.adobe.privacy import PrivacyApi
from reconciler.adobe.retry import RetryEvent
from reconciler.adobe.transport import Transport, check_sandbox
from reconciler.adobe.ttl import DatasetExpirationApi

T = TypeVar("T")
R = TypeVar("R")


def _utc_today() -> date:
    return datetime.now(UTC).date()


class AdobeClient:
    """Synchronous, thread-safe client for Data Hygiene and Privacy Service.

    ``client.hygiene`` holds the work order calls, ``client.ttl`` the dataset expiration
    calls, ``client.privacy`` the privacy job and consent calls. Give ``transport`` (e.g.
    ``httpx.MockTransport``) or a whole ``http`` client to test without a network;
    ``sleep``, ``clock``, ``today`` and ``rng`` make waits and time deterministic in tests.
    ``on_retry`` hears about each wait before a retry.
    """

    def __init__(
        self,
        config: AdobeConfig,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = _utc_today,
        rng: random.Random | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        if http is not None and transport is not None:
            raise ValueError("give http or transport, not both")
        self.config = config
        self._owns_http = http is None
        # TLS verification stays on (httpx's default); redirects are not followed, so a
        # 3xx is reported instead of silently re-sending a POST elsewhere.
        self._http = http or httpx.Client(
            transport=transport, timeout=httpx.Timeout(config.timeout), follow_redirects=False
        )
        self._transport = Transport(
            config,
            self._http,
            clock=clock,
            sleep=sleep,
            rng=rng or random.Random(),
            on_retry=on_retry,
        )
        self.hygiene = HygieneApi(self._transport)
        self.ttl = DatasetExpirationApi(self._transport)
        self.privacy = PrivacyApi(self._transport, today=today)

    def in_sandbox(self, sandbox: str) -> AdobeClient:
        """This client with its Data Hygiene calls (``hygiene``, ``ttl``) in ``sandbox``:
        the same connections, token, rate and concurrency limits; ``config.sandbox_name``
        says ``sandbox``. Closing it closes nothing (this client owns the connections)."""
        view = object.__new__(AdobeClient)
        view.config = self.config.with_changes(sandbox_name=check_sandbox(sandbox))
        view._owns_http = False
        view._http = self._http
        view._transport = self._transport
        view.hygiene = self.hygiene.in_sandbox(sandbox)
        view.ttl = self.ttl.in_sandbox(sandbox)
        view.privacy = self.privacy  # org-wide: no sandbox
        return view

    @property
    def token_fetches(self) -> int:
        """How many tokens were fetched from IMS so far."""
        return self._transport.tokens.fetch_count

    def map_concurrently(self, fn: Callable[[T], R], items: Iterable[T]) -> list[CallResult[T, R]]:
        """Run ``fn(item)`` for each item on ``max_concurrency`` threads; results in input order.

        ``AdobeError``s are returned in the results (``result.success`` is false), so one
        refused call does not hide what happened to the others.
        """
        return run_concurrently(fn, items, max_workers=self.config.max_concurrency)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AdobeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
