"""The emulator's clock: real time times a speed factor, plus an offset tests can advance.

Work-order and job statuses are computed from this clock at read time, so a
test advances the clock instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime


class EmulatorClock:
    """Emulator time in epoch seconds; thread-safe."""

    def __init__(
        self,
        speed: float = 1.0,
        offset: float = 0.0,
        real_time: Callable[[], float] = time.time,
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._lock = threading.Lock()
        self._real_time = real_time
        self._anchor_real = real_time()
        self._anchor_emulated = self._anchor_real + offset
        self._speed = speed

    def now(self) -> float:
        """The current emulator time, in epoch seconds."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        return self._anchor_emulated + (self._real_time() - self._anchor_real) * self._speed

    @property
    def speed(self) -> float:
        with self._lock:
            return self._speed

    def offset(self) -> float:
        """How far emulator time is ahead of real time, in seconds."""
        with self._lock:
            return self._now_locked() - self._real_time()

    def advance(self, seconds: float) -> float:
        """Move emulator time forward (never backward); return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._anchor_emulated = self._now_locked() + seconds
            self._anchor_real = self._real_time()
            return self._anchor_emulated

    def set_speed(self, speed: float) -> None:
        """Change the speed factor from now on, without a jump in emulator time."""
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        with self._lock:
            self._anchor_emulated = self._now_locked()
            self._anchor_real = self._real_time()
            self._speed = speed

    def catch_up(self, at_least: float) -> None:
        """Ensure emulator time is not before ``at_least`` (after a restart)."""
        with self._lock:
            now = self._now_locked()
            if now < at_least:
                self._anchor_emulated += at_least - now


def iso(epoch: float) -> str:
    """Adobe's Data Hygiene timestamp shape: ``2035-06-02T09:21:00.000Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_day(epoch: float) -> date:
    """The GMT calendar day of an epoch time."""
    return datetime.fromtimestamp(epoch, UTC).date()


def privacy_date(epoch: float) -> str:
    """Privacy Service's date shape, as in its docs: ``04/29/2021 09:53 PM GMT``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%m/%d/%Y %I:%M %p GMT")
