"""Client-side limits: a request rate and a helper to run many calls with bounded concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from reconciler.adobe.errors import AdobeError

T = TypeVar("T")
R = TypeVar("R")


class RateLimiter:
    """Spaces requests at least ``1 / per_second`` apart, across all threads.

    Each caller reserves the next free slot under a lock and sleeps outside it,
    so waiting threads do not block each other's bookkeeping.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if not per_second > 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def acquire(self) -> float:
        """Wait for the next slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = now if self._next_slot is None else max(now, self._next_slot)
            self._next_slot = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)


@dataclass(frozen=True)
class CallResult(Generic[T, R]):
    """The outcome of one call made by ``run_concurrently``."""

    item: T
    value: R | None = None
    error: AdobeError | None = None

    @property
    def success(self) -> bool:
        return self.error is None


def run_concurrently(
    fn: Callable[[T], R], items: Iterable[T], *, max_workers: int
) -> list[CallResult[T, R]]:
    """Call ``fn`` on every item with at most ``max_workers`` in flight; results in input order.

    An ``AdobeError`` becomes a failed ``CallResult`` so one refusal does not hide the
    other outcomes; any other exception is a bug and propagates.
    """

    def one(item: T) -> CallResult[T, R]:
        try:
            return CallResult(item=item, value=fn(item))
        except AdobeError as error:
            return CallResult(item=item, error=error)

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="adobe") as pool:
        return list(pool.map(one, items))
