"""IMS OAuth Server-to-Server tokens: fetched once, shared by all threads, renewed before expiry."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from reconciler import __version__
from reconciler.adobe.config import IMS_TOKEN_PATH, AdobeConfig
from reconciler.adobe.errors import (
    AuthenticationError,
    InvalidResponseError,
    ServerError,
    ThrottledError,
)
from reconciler.adobe.retry import (
    AttemptFailed,
    Backoff,
    FailureKind,
    RetryEvent,
    parse_retry_after,
    run_with_retries,
)
from reconciler.adobe.wire import exchange, parse_error_body, parse_json

log = logging.getLogger("reconciler.adobe")

# IMS answers seconds (86399 for a day). The retired JWT flow answered milliseconds:
# 86,399,000 would read as 1000 days, so anything past a week is refused, not guessed at.
MIN_LIFETIME = 1
MAX_LIFETIME = 7 * 24 * 3600
MIN_MARGIN = 60.0
MARGIN_FRACTION = 0.10
_MAX_TOKEN_CHARS = 16 * 1024


@dataclass(frozen=True)
class _Token:
    value: str = ""
    renew_at: float = 0.0


class TokenProvider:
    """Thread-safe access token cache for one set of credentials.

    Renewed when less than ``max(60 s, 10% of its lifetime)`` remains (at most
    half the lifetime, for very short tokens), or after ``invalidate``.
    """

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
        self._config = config
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._on_retry = on_retry
        self._lock = threading.Lock()
        self._token = _Token()
        self.fetch_count = 0

    def token(self) -> str:
        """A valid access token, fetching one if none is cached or it is about to expire."""
        with self._lock:
            if not self._token.value or self._clock() >= self._token.renew_at:
                self._token = self._fetch()
            return self._token.value

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the gateway refused it); a newer token fetched meanwhile is kept."""
        with self._lock:
            if self._token.value == token:
                self._token = _Token()

    def _fetch(self) -> _Token:
        config = self._config
        path = IMS_TOKEN_PATH
        backoff = Backoff(
            config.backoff_base, config.backoff_max, config.max_retry_after, self._rng
        )

        def attempt() -> _Token:
            started = self._clock()
            request = self._http.build_request(
                "POST",
                config.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": config.client_id,
                    "client_secret": config.client_secret,
                    "scope": config.scopes,
                },
                headers={"Accept": "application/json", "User-Agent": f"reconciler/{__version__}"},
                timeout=httpx.Timeout(config.timeout),
            )
            raw = exchange(
                self._http,
                request,
                path=path,
                max_bytes=config.max_response_bytes,
                deadline=started + config.attempt_deadline,
                clock=self._clock,
            )
            log.debug("POST %s -> %d", path, raw.status)
            if raw.status == 200:
                return self._parse(parse_json(raw, method="POST", path=path), started)
            details = parse_error_body(raw, redact=(config.client_secret, config.client_id))
            args = dict(error_code=details.error_code, message=details.message)
            retry_after = parse_retry_after(raw.headers.get("retry-after"))
            if raw.status == 429:
                raise AttemptFailed(
                    FailureKind.THROTTLED,
                    ThrottledError("POST", path, 429, **args),
                    retry_after=retry_after,
                    status=429,
                )
            if raw.status >= 500 or raw.status == 408:
                raise AttemptFailed(
                    FailureKind.SERVER,
                    ServerError("POST", path, raw.status, **args),
                    retry_after=retry_after,
                    status=raw.status,
                )
            # 400 invalid_client, 401 invalid secret, 403: the credentials are wrong.
            raise AuthenticationError("POST", path, raw.status, **args)

        token = run_with_retries(
            attempt,
            method="POST",
            path=path,
            # Asking for a token twice has no side effect: retry it like an idempotent call.
            idempotent=True,
            max_retries=config.max_retries,
            call_deadline=config.call_deadline,
            backoff=backoff,
            clock=self._clock,
            sleep=self._sleep,
            on_retry=self._on_retry,
        )
        self.fetch_count += 1
        log.debug("IMS token fetched; renewing in %.0f s", token.renew_at - self._clock())
        return token

    def _parse(self, data: object, started: float) -> _Token:
        where = "IMS token answer"
        if not isinstance(data, dict):
            raise InvalidResponseError(f"{where}: expected an object")
        value = data.get("access_token")
        if not isinstance(value, str) or not value or len(value) > _MAX_TOKEN_CHARS:
            raise InvalidResponseError(f"{where}: access_token missing or not a string")
        if not value.isascii() or not value.isprintable() or " " in value:
            raise InvalidResponseError(
                f"{where}: access_token has characters a header cannot carry"
            )
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise InvalidResponseError(f"{where}: token_type is not bearer")
        lifetime = data.get("expires_in")
        if isinstance(lifetime, float) and lifetime.is_integer():
            lifetime = int(lifetime)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool):
            raise InvalidResponseError(f"{where}: expires_in missing or not an integer")
        if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise InvalidResponseError(
                f"{where}: expires_in {lifetime} is outside {MIN_LIFETIME}..{MAX_LIFETIME}"
                " seconds (milliseconds from the retired JWT flow?)"
            )
        margin = min(max(MIN_MARGIN, MARGIN_FRACTION * lifetime), lifetime / 2)
        # Count from when the request was sent: the token was issued no earlier than that.
        return _Token(value=value, renew_at=started + lifetime - margin)
