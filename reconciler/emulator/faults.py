"""Fault injection: what to break, how often, and a count of what was broken.

A :class:`FaultPlan` holds one :class:`FaultSpec` per route class (``token``
for IMS, ``read`` for GETs, ``write`` for POST/PUT) plus ``token_down``.
Decisions come from one seeded ``random.Random`` so a campaign replays the
same way for the same sequence of requests.

JSON shape (``GET``/``PUT /_emulator/faults``, the ``faults:`` key of the
config file)::

    {"seed": 7, "token_down": false,
     "token": {...spec...}, "read": {...spec...}, "write": {...spec...}}

Spec keys at the top level apply to all three classes, e.g.
``{"error_rate": 0.1}``.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

ROUTE_CLASSES: tuple[str, ...] = ("token", "read", "write")
ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


@dataclass(frozen=True)
class FaultSpec:
    """Faults for one route class; rates are probabilities in [0, 1]."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    spike_rate: float = 0.0
    spike_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: int = 1
    drop_after_commit_rate: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: FaultSpec | None = None) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault setting {name} must be a number")
            if name.endswith("_rate") and not 0 <= value <= 1:
                raise ValueError(f"fault setting {name} must be between 0 and 1")
            if value < 0:
                raise ValueError(f"fault setting {name} must not be negative")
            values[name] = int(value) if name == "retry_after" else float(value)
        return replace(base or cls(), **values)


@dataclass(frozen=True)
class FaultPlan:
    """The faults in force: one spec per route class, and whether IMS is down."""

    token: FaultSpec = field(default_factory=FaultSpec)
    read: FaultSpec = field(default_factory=FaultSpec)
    write: FaultSpec = field(default_factory=FaultSpec)
    token_down: bool = False
    seed: int = 0

    def spec(self, route_class: str) -> FaultSpec:
        spec: FaultSpec = getattr(self, route_class)
        return spec

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "token_down": self.token_down}
        for name in ROUTE_CLASSES:
            out[name] = asdict(self.spec(name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultPlan:
        """Parse the JSON/YAML shape described in the module docstring."""
        if not isinstance(data, Mapping):
            raise ValueError("faults must be an object")
        spec_keys = {f.name for f in fields(FaultSpec)}
        shared = {k: v for k, v in data.items() if k in spec_keys}
        unknown = set(data) - spec_keys - set(ROUTE_CLASSES) - {"seed", "token_down"}
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        base = FaultSpec.from_dict(shared)
        per_class: dict[str, FaultSpec] = {}
        for name in ROUTE_CLASSES:
            own = data.get(name) or {}
            if not isinstance(own, Mapping):
                raise ValueError(f"faults.{name} must be an object")
            per_class[name] = FaultSpec.from_dict(own, base)
        seed = data.get("seed", 0)
        token_down = data.get("token_down", False)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("faults.seed must be an integer")
        if not isinstance(token_down, bool):
            raise ValueError("faults.token_down must be true or false")
        return cls(
            token=per_class["token"],
            read=per_class["read"],
            write=per_class["write"],
            token_down=token_down,
            seed=seed,
        )


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request, decided before it reaches a handler."""

    latency_s: float = 0.0
    status: int | None = None  # answer with this instead of calling the handler
    kind: str | None = None  # counter name for ``status``
    retry_after: int | None = None
    drop_after_commit: bool = False


NO_FAULT = FaultDecision()


class FaultInjector:
    """Thread-safe holder of the current plan, its random source and the counters."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()
        self._rng = random.Random(self._plan.seed)
        self._counts: Counter[str] = Counter()
        self._by_class: dict[str, Counter[str]] = {name: Counter() for name in ROUTE_CLASSES}

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan and reseed; counters are kept (see :meth:`reset_counters`)."""
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()
            for counter in self._by_class.values():
                counter.clear()

    def decide(self, route_class: str) -> FaultDecision:
        """Draw the faults for one request of ``route_class``."""
        with self._lock:
            plan = self._plan
            spec = plan.spec(route_class)
            rng = self._rng
            latency = spec.latency_ms
            if spec.jitter_ms:
                latency += rng.uniform(0, spec.jitter_ms)
            if spec.spike_rate and rng.random() < spec.spike_rate:
                latency += spec.spike_ms
            if latency:
                self._count_locked("latency", route_class)
            latency_s = latency / 1000.0
            if route_class == "token" and plan.token_down:
                self._count_locked("token_down", route_class)
                return FaultDecision(latency_s, 503, "token_down")
            if spec.throttle_rate and rng.random() < spec.throttle_rate:
                self._count_locked("throttle_429", route_class)
                return FaultDecision(latency_s, 429, "throttle_429", spec.retry_after)
            if spec.error_rate and rng.random() < spec.error_rate:
                status = rng.choice(ERROR_STATUSES)
                kind = f"error_{status}"
                self._count_locked(kind, route_class)
                return FaultDecision(latency_s, status, kind)
            drop = bool(
                route_class == "write"
                and spec.drop_after_commit_rate
                and rng.random() < spec.drop_after_commit_rate
            )
            if not latency_s and not drop:
                return NO_FAULT
            return FaultDecision(latency_s, drop_after_commit=drop)

    def count(self, kind: str, route_class: str) -> None:
        """Count a fault that was decided earlier and has now happened."""
        with self._lock:
            self._count_locked(kind, route_class)

    def _count_locked(self, kind: str, route_class: str) -> None:
        self._counts[kind] += 1
        self._by_class[route_class][kind] += 1

    def counters(self) -> dict[str, Any]:
        """``{"total": {kind: n}, "by_class": {class: {kind: n}}}``."""
        with self._lock:
            return {
                "total": dict(self._counts),
                "by_class": {name: dict(c) for name, c in self._by_class.items()},
            }
