from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from reconciler.adobe.limits import RateLimiter
from reconciler.adobe.retry import (
    POLICY,
    Backoff,
    FailureKind,
    Verdict,
    decide,
    is_idempotent,
    parse_retry_after,
)

from .conftest import FakeClock


@pytest.mark.parametrize(
    ("method", "kind", "verdict"),
    [
        ("GET", FailureKind.CONNECT, Verdict.RETRY),
        ("PUT", FailureKind.SEND, Verdict.RETRY),
        ("GET", FailureKind.THROTTLED, Verdict.RETRY),
        ("PUT", FailureKind.SERVER, Verdict.RETRY),
        ("GET", FailureKind.INVALID, Verdict.RAISE),
        ("GET", FailureKind.UNAUTHORIZED, Verdict.RAISE),
        ("POST", FailureKind.CONNECT, Verdict.RETRY),
        ("POST", FailureKind.THROTTLED, Verdict.UNKNOWN),
        ("POST", FailureKind.UNAUTHORIZED, Verdict.UNKNOWN),
        ("POST", FailureKind.SEND, Verdict.UNKNOWN),
        ("POST", FailureKind.SERVER, Verdict.UNKNOWN),
        ("POST", FailureKind.INVALID, Verdict.UNKNOWN),
        ("POST", FailureKind.FATAL, Verdict.RAISE),
    ],
)
def test_policy_table(method: str, kind: FailureKind, verdict: Verdict) -> None:
    assert decide(is_idempotent(method), kind) is verdict


def test_policy_covers_every_case() -> None:
    assert set(POLICY) == {(i, k) for i in (True, False) for k in FailureKind}


def test_a_post_is_repeated_only_when_it_certainly_was_not_sent() -> None:
    retried = {
        kind for (idempotent, kind), v in POLICY.items() if not idempotent and v is Verdict.RETRY
    }
    assert retried == {FailureKind.CONNECT}


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        (" 0 ", 0.0),
        ("-3", None),
        ("soon", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_retry_after_seconds(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now) == 30.0
    past = format_datetime(datetime(2026, 6, 15, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    backoff = Backoff(base=1.0, cap=30.0, max_retry_after=120.0, rng=random.Random(1))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 30.0), (9, 30.0)]:
        wait = backoff.wait_for(attempt, None)
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_honours_retry_after_up_to_a_cap() -> None:
    backoff = Backoff(base=1.0, cap=30.0, max_retry_after=120.0, rng=random.Random(1))
    assert backoff.wait_for(1, 42.0) == 42.0
    assert backoff.wait_for(1, 3600.0) == 120.0


def test_rate_limiter_spaces_requests() -> None:
    clock = FakeClock()
    waits: list[float] = []
    limiter = RateLimiter(4.0, clock=clock, sleep=waits.append)  # sleeping does not move time
    for _ in range(4):
        limiter.acquire()
    assert waits == [0.25, 0.5, 0.75]


def test_rate_limiter_does_not_wait_when_calls_are_slow_enough() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert limiter.acquire() == 0.0
        clock.advance(1.0)
    assert clock.sleeps == []


def test_rate_limiter_gives_every_thread_its_own_slot() -> None:
    clock = FakeClock()
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(round(seconds, 6))

    limiter = RateLimiter(10.0, clock=clock, sleep=record)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [round(0.1 * n, 6) for n in range(1, 20)]
