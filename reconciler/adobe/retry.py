"""When to retry, and how long to wait: the one place that decides.

Exactly once is the product's promise, so the policy depends on whether the
method is idempotent. GET and PUT may be repeated; a POST creates something,
so it is repeated only when the request certainly did not reach Adobe
(connect failures). Anything else after a POST was sent is an
``OutcomeUnknownError``: the caller must look for the object before sending it
again. No status code is taken on its word for that: a gateway may answer 429
or 401 after the backend committed the create (the emulator's
``commit_then_error`` faults), and resending on it made duplicate work orders.

===================================  ===============  ==========================
failure                              GET / PUT        POST
===================================  ===============  ==========================
connect error/timeout, pool timeout  retry            retry
read/write error or timeout, broken  retry            OutcomeUnknownError
connection, attempt deadline passed
429 Too Many Requests                retry            OutcomeUnknownError
408, 500, 502, 503, 504, other 5xx   retry            OutcomeUnknownError
2xx with an invalid body             raise            OutcomeUnknownError
401                                  new token,       OutcomeUnknownError (the token
                                     resend once,     is dropped, so the next call
                                     then raise       gets a new one)
403 / 404 / other 4xx                raise            raise
===================================  ===============  ==========================

429 and 503 after a POST count as unknown even with ``Retry-After``: Adobe
documents 429 for Privacy Service without saying the call was not processed,
and a duplicate deletion order costs more than a lookup. The client's own rate
limit (``limits.RateLimiter``) spaces calls before they are sent, so fewer 429s
come back at all.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from reconciler.adobe.errors import AdobeError

T = TypeVar("T")

log = logging.getLogger("reconciler.adobe")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class FailureKind(Enum):
    """What went wrong in one attempt, as far as retrying is concerned."""

    CONNECT = "connect"  # the request certainly did not reach the server
    SEND = "send"  # sent (perhaps partly), no complete answer
    THROTTLED = "throttled"  # 429: the server says it did not process it (unverifiable)
    UNAUTHORIZED = "unauthorized"  # 401 (on a fresh token for GET/PUT): it may have gone through
    SERVER = "server"  # 5xx or 408: the server may or may not have processed it
    INVALID = "invalid"  # a 2xx answer that cannot be read
    FATAL = "fatal"  # not worth repeating (a request we could not even build)


class Verdict(Enum):
    RETRY = "retry"
    RAISE = "raise"  # raise the attempt's own error
    UNKNOWN = "unknown"  # raise OutcomeUnknownError


POLICY: dict[tuple[bool, FailureKind], Verdict] = {
    # (idempotent, failure) -> verdict; see the table in the module docstring.
    (True, FailureKind.CONNECT): Verdict.RETRY,
    (False, FailureKind.CONNECT): Verdict.RETRY,
    (True, FailureKind.SEND): Verdict.RETRY,
    (False, FailureKind.SEND): Verdict.UNKNOWN,
    (True, FailureKind.THROTTLED): Verdict.RETRY,
    (False, FailureKind.THROTTLED): Verdict.UNKNOWN,
    # GET/PUT are resent once on a new token by the transport before this is reached.
    (True, FailureKind.UNAUTHORIZED): Verdict.RAISE,
    (False, FailureKind.UNAUTHORIZED): Verdict.UNKNOWN,
    (True, FailureKind.SERVER): Verdict.RETRY,
    (False, FailureKind.SERVER): Verdict.UNKNOWN,
    (True, FailureKind.INVALID): Verdict.RAISE,
    (False, FailureKind.INVALID): Verdict.UNKNOWN,
    (True, FailureKind.FATAL): Verdict.RAISE,
    (False, FailureKind.FATAL): Verdict.RAISE,
}


def is_idempotent(method: str) -> bool:
    return method.upper() in IDEMPOTENT_METHODS


def decide(idempotent: bool, kind: FailureKind) -> Verdict:
    """The verdict for a failure of ``kind`` on an (un)idempotent call."""
    return POLICY[(idempotent, kind)]


class AttemptFailed(Exception):
    """Internal: one attempt failed. ``error`` is what the caller sees if nothing else follows."""

    def __init__(
        self,
        kind: FailureKind,
        error: AdobeError,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(str(error))
        self.kind = kind
        self.error = error
        self.retry_after = retry_after
        self.status = status


class _Retryable(Exception):
    def __init__(self, failure: AttemptFailed) -> None:
        super().__init__(str(failure.error))
        self.failure = failure


@dataclass(frozen=True)
class RetryEvent:
    """Reported before each wait: for progress displays and tests."""

    method: str
    path: str
    attempt: int
    wait: float
    reason: str


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After``: delta seconds (int or float) or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


@dataclass(frozen=True)
class Backoff:
    """``Retry-After`` when the server gave one (capped), else exponential backoff with jitter."""

    base: float
    cap: float
    max_retry_after: float
    rng: random.Random

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.cap, self.base * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half the exponential step, so waits grow, plus a random half
        # so that parallel workers do not come back in lockstep.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def run_with_retries(
    attempt: Callable[[], T],
    *,
    method: str,
    path: str,
    idempotent: bool,
    max_retries: int,
    call_deadline: float,
    backoff: Backoff,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_unknown: Callable[[AttemptFailed, int], AdobeError] | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> T:
    """Run ``attempt`` until it returns, applying the policy table to each ``AttemptFailed``."""
    started = clock()
    attempts = 0

    def one() -> T:
        nonlocal attempts
        attempts += 1
        try:
            return attempt()
        except AttemptFailed as failure:
            if failure.error.__cause__ is None:
                # Keep the original (httpx) exception on the error the caller will see.
                failure.error.__cause__ = failure.__cause__
            verdict = decide(idempotent, failure.kind)
            if verdict is Verdict.RETRY:
                raise _Retryable(failure) from None
            if verdict is Verdict.UNKNOWN and on_unknown is not None:
                raise on_unknown(failure, attempts) from failure.error
            raise failure.error from failure.error.__cause__

    def wait(state: RetryCallState) -> float:
        failure = _failure_of(state)
        return backoff.wait_for(state.attempt_number, failure.retry_after)

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number > max_retries:
            return True
        return clock() - started + state.upcoming_sleep > call_deadline

    def before_sleep(state: RetryCallState) -> None:
        failure = _failure_of(state)
        log.debug(
            "%s %s: %s on attempt %d, retrying in %.2f s",
            method,
            path,
            _reason(failure),
            state.attempt_number,
            state.upcoming_sleep,
        )
        if on_retry is not None:
            on_retry(
                RetryEvent(
                    method=method,
                    path=path,
                    attempt=state.attempt_number,
                    wait=state.upcoming_sleep,
                    reason=_reason(failure),
                )
            )

    retrying = Retrying(
        retry=retry_if_exception_type(_Retryable),
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(one)
    except _Retryable as exhausted:
        error = exhausted.failure.error
        raise error from error.__cause__


def _failure_of(state: RetryCallState) -> AttemptFailed:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    assert isinstance(exc, _Retryable)  # only _Retryable is retried
    return exc.failure


def _reason(failure: AttemptFailed) -> str:
    if failure.status is not None:
        return f"status {failure.status}"
    return failure.kind.value
