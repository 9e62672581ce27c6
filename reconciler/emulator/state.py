"""The emulator's shared state, handed to every handler."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.clock import EmulatorClock
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.faults import FaultInjector
from reconciler.emulator.store import Store

_CLOCK_OFFSET = "clock_offset"


class RequestLog:
    """The last requests seen: method, path, status, fault; never bodies or query strings."""

    def __init__(self, size: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = 0

    def add(self, method: str, path: str, status: int | None, fault: str | None) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(
                {
                    "seq": self._seq,
                    "method": method,
                    "path": path,
                    "status": status,
                    "fault": fault,
                    "at": time.monotonic(),
                }
            )

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Emulator:
    """Configuration plus the live parts: store, clock, faults, request log."""

    config: EmulatorConfig
    store: Store
    clock: EmulatorClock
    faults: FaultInjector
    requests: RequestLog = field(default_factory=RequestLog)

    @classmethod
    def create(cls, config: EmulatorConfig, store: Store) -> Emulator:
        """Wire the parts; a restarted emulator's clock never runs behind what it stored."""
        offset = float(store.get_meta(_CLOCK_OFFSET) or 0.0)
        clock = EmulatorClock(speed=config.speed, offset=offset)
        clock.catch_up(store.latest_time())
        return cls(config=config, store=store, clock=clock, faults=FaultInjector(config.faults))

    def advance_clock(self, seconds: float) -> float:
        now = self.clock.advance(seconds)
        self.store.set_meta(_CLOCK_OFFSET, repr(self.clock.offset()))
        return now

    def reset(self) -> None:
        """Forget objects, tokens, faults, counters and the log; the clock starts over."""
        self.store.clear()
        self.faults.set_plan(self.config.faults)
        self.faults.reset_counters()
        self.requests.clear()
        self.clock = EmulatorClock(speed=self.config.speed)
