"""The request core: headers, token, rate, concurrency, retries, and mapping answers to errors."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import httpx

from reconciler import __version__
from reconciler.adobe.auth import TokenProvider
from reconciler.adobe.config import HYGIENE_BASE, PRIVACY_BASE, AdobeConfig
from reconciler.adobe.errors import (
    AdobeError,
    ApiError,
    AuthenticationError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconciler.adobe.limits import RateLimiter
from reconciler.adobe.retry import (
    AttemptFailed,
    Backoff,
    FailureKind,
    RetryEvent,
    is_idempotent,
    parse_retry_after,
    run_with_retries,
)
from reconciler.adobe.wire import RawResponse, exchange, parse_error_body, parse_json

log = logging.getLogger("reconciler.adobe")

Params = Mapping[str, str | int]
T = TypeVar("T")


@dataclass(frozen=True)
class Api:
    """One Adobe API under the platform gateway."""

    name: str
    base: str
    sandboxed: bool


HYGIENE = Api("Data Hygiene", HYGIENE_BASE, sandboxed=True)
# Privacy Service is org-wide: it takes no x-sandbox-name header.
PRIVACY = Api("Privacy Service", PRIVACY_BASE, sandboxed=False)


def check_sandbox(name: object) -> str:
    """``name`` if it can be sent as ``x-sandbox-name``: a non-empty sandbox name without
    whitespace or control characters, and not ``*`` (which only the list's ``sandboxName``
    query takes, for every sandbox)."""
    if (
        not isinstance(name, str)
        or not name
        or name == "*"
        or any(ch.isspace() or not ch.isprintable() for ch in name)
    ):
        raise InvalidArgumentError("a sandbox must be a sandbox name (such as prod), not empty")
    return name


def path_segment(value: str) -> str:
    """Quote one path segment, so no value can add segments or a query."""
    return quote(value, safe="")


class Transport:
    """Sends calls to the platform gateway; thread-safe, shared by all API objects."""

    def __init__(
        self,
        config: AdobeConfig,
        http: httpx.Client,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        rng: random.Random,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.config = config
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._on_retry = on_retry
        self._backoff = Backoff(
            config.backoff_base, config.backoff_max, config.max_retry_after, rng
        )
        self.tokens = TokenProvider(
            config, http, clock=clock, sleep=sleep, rng=rng, on_retry=on_retry
        )
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._rate = RateLimiter(config.requests_per_second, clock=clock, sleep=sleep)

    def call(
        self,
        api: Api,
        method: str,
        path: str,
        parse: Callable[[object], T],
        *,
        params: Params | None = None,
        body: Mapping[str, object] | None = None,
        expect_json: bool = True,
        redact: Iterable[str] = (),
        sandbox: str | None = None,
    ) -> T:
        """Make one call (with retries) and return ``parse`` of its JSON (of ``None`` if no
        body is expected).

        ``parse`` runs inside the attempt, so an answer of the wrong shape is subject to the
        retry policy: after a POST it is an ``OutcomeUnknownError``. ``path`` is relative to
        the API's base and must be built with ``path_segment``. ``redact`` lists values
        (identities) that must not be copied from an error message. ``sandbox`` names the
        sandbox of a sandboxed API's call (``x-sandbox-name``), the configuration's when
        None; an API without sandboxes refuses one.
        """
        method = method.upper()
        if sandbox is not None:
            if not api.sandboxed:
                raise InvalidArgumentError(f"{api.name} has no sandboxes: it is org-wide")
            check_sandbox(sandbox)
        header_sandbox = (sandbox or self.config.sandbox_name) if api.sandboxed else None
        full_path = api.base + path
        request_id = str(uuid.uuid4())
        payload = (
            None
            if body is None
            else json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        )
        secrets = (self.config.client_secret, *redact)

        idempotent = is_idempotent(method)

        def attempt() -> T:
            data = self._attempt(
                header_sandbox,
                method,
                full_path,
                params,
                payload,
                request_id,
                expect_json,
                secrets,
                idempotent,
            )
            try:
                return parse(data)
            except InvalidResponseError as e:
                raise AttemptFailed(FailureKind.INVALID, e) from e

        def unknown(failure: AttemptFailed, attempts: int) -> AdobeError:
            reason = failure.error.reason if isinstance(failure.error, TransportError) else None
            if failure.status is not None:
                reason = f"answered {failure.status}"
                code = failure.error.error_code if isinstance(failure.error, ApiError) else None
                if code:
                    reason += f" (error_code {code})"
            elif failure.kind is FailureKind.INVALID:
                reason = "answered, but the answer could not be read or is not about what was sent"
            return OutcomeUnknownError(
                method,
                full_path,
                reason=reason or failure.kind.value,
                request_id=request_id,
                attempts=attempts,
                status=failure.status,
            )

        return run_with_retries(
            attempt,
            method=method,
            path=full_path,
            idempotent=idempotent,
            max_retries=self.config.max_retries,
            call_deadline=self.config.call_deadline,
            backoff=self._backoff,
            clock=self._clock,
            sleep=self._sleep,
            on_unknown=unknown,
            on_retry=self._on_retry,
        )

    def _attempt(
        self,
        sandbox: str | None,
        method: str,
        path: str,
        params: Params | None,
        payload: bytes | None,
        request_id: str,
        expect_json: bool,
        secrets: tuple[str, ...],
        idempotent: bool,
    ) -> object:
        for round_ in (1, 2):
            token = self.tokens.token()
            raw = self._send(sandbox, method, path, params, payload, request_id, token)
            if raw.status == 401:
                # Whatever else it means, the token is not to be used again.
                self.tokens.invalidate(token)
                if round_ == 1 and idempotent:
                    log.debug("%s %s -> 401; renewing the token and resending once", method, path)
                    continue
                # A POST is not resent: a gateway may say 401 after the backend committed it
                # (see the policy in ``retry``); the 401 becomes an unknown outcome.
            return self._interpret(raw, method, path, request_id, expect_json, secrets)
        raise AssertionError("unreachable")

    def _send(
        self,
        sandbox: str | None,
        method: str,
        path: str,
        params: Params | None,
        payload: bytes | None,
        request_id: str,
        token: str,
    ) -> RawResponse:
        config = self.config
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": config.client_id,
            "x-gw-ims-org-id": config.org_id,
            "x-request-id": request_id,
            "Accept": "application/json",
            "User-Agent": f"reconciler/{__version__}",
        }
        if sandbox is not None:
            headers["x-sandbox-name"] = sandbox
        if payload is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            method,
            config.platform_base + path,
            params=dict(params) if params else None,
            content=payload,
            headers=headers,
            timeout=httpx.Timeout(config.timeout),
        )
        with self._slots:
            self._rate.acquire()
            started = self._clock()
            raw = exchange(
                self._http,
                request,
                path=path,
                max_bytes=config.max_response_bytes,
                deadline=started + config.attempt_deadline,
                clock=self._clock,
            )
        log.debug(
            "%s %s -> %d (%.2f s, x-request-id %s)",
            method,
            path,
            raw.status,
            self._clock() - started,
            request_id,
        )
        return raw

    def _interpret(
        self,
        raw: RawResponse,
        method: str,
        path: str,
        request_id: str,
        expect_json: bool,
        secrets: tuple[str, ...],
    ) -> object:
        status = raw.status
        if 200 <= status < 300:
            if not expect_json:
                return None
            try:
                return parse_json(raw, method=method, path=path)
            except InvalidResponseError as e:
                raise AttemptFailed(FailureKind.INVALID, e, status=None) from e
        if not 400 <= status < 600:
            error = InvalidResponseError(f"{method} {path}: unexpected status {status}")
            raise AttemptFailed(FailureKind.INVALID, error)
        details = parse_error_body(raw, redact=secrets)
        kwargs = dict(error_code=details.error_code, message=details.message, request_id=request_id)
        retry_after = parse_retry_after(raw.headers.get("retry-after"))
        if status == 429:
            throttled = ThrottledError(method, path, status, **kwargs)
            raise AttemptFailed(
                FailureKind.THROTTLED, throttled, retry_after=retry_after, status=status
            )
        if status >= 500 or status == 408:
            server = ServerError(method, path, status, **kwargs)
            raise AttemptFailed(FailureKind.SERVER, server, retry_after=retry_after, status=status)
        if status == 401:
            refused = AuthenticationError(method, path, status, **kwargs)
            raise AttemptFailed(FailureKind.UNAUTHORIZED, refused, status=status)
        if status == 403:
            raise AuthenticationError(method, path, status, **kwargs)
        if status == 404:
            raise NotFoundError(method, path, status, **kwargs)
        raise ApiError(method, path, status, **kwargs)
