"""Fault injection: what to break, how often, and a count of what was broken.

A :class:`FaultPlan` holds one :class:`FaultSpec` per route class (``token``
for IMS, ``read`` for GETs, ``write`` for POST/PUT/DELETE) plus ``token_down``.
Decisions come from one seeded ``random.Random`` so a campaign replays the
same way for the same sequence of requests; a rate of 0 draws nothing, so a
plan that adds a new mode at 0 replays an older campaign unchanged.

JSON shape (``GET``/``PUT /_emulator/faults``, the ``faults:`` key of the
config file)::

    {"seed": 7, "token_down": false,
     "token": {...spec...}, "read": {...spec...}, "write": {...spec...}}

Spec keys at the top level apply to all three classes, e.g.
``{"error_rate": 0.1}``. Each key, the class it acts on, and the counter it
adds to (``GET /_emulator/counters``):

==========================  =====  ===============================================
key                         class  effect (counter)
==========================  =====  ===============================================
``latency_ms``,             all    added delay (``latency``)
``jitter_ms``,
``spike_rate``/``spike_ms``
``error_rate``              all    500/502/503 before the handler, nothing written
                                   (``error_500``, ``error_502``, ``error_503``)
``throttle_rate``,          all    429 with ``Retry-After: retry_after`` before the
``retry_after``                    handler (``throttle_429``)
``drop_after_commit_rate``  write  the handler commits, the connection drops half-way
                                   through the answer (``drop_after_commit``)
``commit_then_error_rate``, write  the handler commits, the answer is a status drawn
``commit_then_statuses``           from ``commit_then_statuses`` (any of 429, 401,
                                   500, 502, 503; default all five) in the gateway's
                                   error shape: 429 with ``Retry-After``, 401 as an
                                   invalid token (``commit_then_429``, ...)
``reused_id_rate``          write  a create (``POST /workorder``, ``/jobs``, ``/ttl``)
                                   answers the id of an earlier object of the same
                                   organisation (and sandbox) instead of the new
                                   one's, which is stored under its own id
                                   (``reused_id``)
``partial_answer_rate``     write  ``POST /jobs`` stores the jobs of every user but
                                   answers only those of the first half of its users
                                   (at least one user left out; a one-user create is
                                   answered in full) (``partial_answer``)
``search_lag_s``            read   work orders and dataset expirations created less
                                   than this many emulator seconds ago are missing
                                   from ``GET /workorder`` and ``GET /ttl``, totals
                                   included; by id they are there (``search_lag``,
                                   once per listing that hid something)
``search_index_lag_s``      read   as ``search_lag_s``, only for work-order listings
                                   that use ``search``: the search index lags, the
                                   listing without it does not (``search_lag``)
``lying_total_rate``        read   a listing's ``total``/``totalRecords``/
                                   ``total_count`` disagrees with its items: the
                                   count with an empty page, or fewer than the page
                                   holds, or (nothing to list) a full page's worth
                                   (``lying_total``)
``short_page_rate``         read   a listing pages by half the size asked (at least
                                   one), as a service with a smaller maximum does:
                                   the page is short although more follow, and page
                                   ``n`` starts at ``n`` times that half; below a
                                   rate of 1 the two sizes mix and a walk can skip
                                   items (``short_page``, when the page is short and
                                   more follow)
``token_down``              token  IMS answers 503 (``token_down``)
==========================  =====  ===============================================

Adobe documents no consistency bound for its lists ("appear in the work order
list after submission", api-notes.md): ``search_lag_s`` is that unbounded lag made
finite. Faults that act on a listing's or a create's content are decided here
with the others and carried to the handler in the ASGI scope
(:func:`request_faults`); the handler applies them and reports what happened.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, TypeVar

ROUTE_CLASSES: tuple[str, ...] = ("token", "read", "write")
ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)
# What a write may be answered with after it committed: each one a status some client
# takes for "not processed, send it again".
COMMIT_THEN_STATUSES: tuple[int, ...] = (429, 401, 500, 502, 503)
# How a lying total lies about a page that has items: the true count with no items, or a
# count smaller than the items returned.
LIES: tuple[str, ...] = ("empty", "under")
# Where the middleware leaves a request's :class:`RequestFaults` for its handler.
SCOPE_KEY = "reconciler.emulator.faults"

_Item = TypeVar("_Item")


def _statuses(name: str, value: Any) -> tuple[int, ...]:
    allowed = ", ".join(str(s) for s in COMMIT_THEN_STATUSES)
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and s in COMMIT_THEN_STATUSES
            for s in value
        )
    ):
        raise ValueError(f"fault setting {name} must be a non-empty list drawn from {allowed}")
    return tuple(value)


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
    commit_then_error_rate: float = 0.0
    commit_then_statuses: tuple[int, ...] = COMMIT_THEN_STATUSES
    reused_id_rate: float = 0.0
    partial_answer_rate: float = 0.0
    search_lag_s: float = 0.0
    search_index_lag_s: float = 0.0
    lying_total_rate: float = 0.0
    short_page_rate: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: FaultSpec | None = None) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "commit_then_statuses":
                values[name] = _statuses(name, value)
                continue
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
            spec = asdict(self.spec(name))
            spec["commit_then_statuses"] = list(spec["commit_then_statuses"])
            out[name] = spec
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
    commit_then_status: int | None = None  # answer with this once the handler committed
    reused_id: bool = False
    partial_answer: bool = False
    search_lag_s: float = 0.0
    search_index_lag_s: float = 0.0
    lie: str | None = None  # one of LIES: the listing's total disagrees with its items
    short_page: bool = False


NO_FAULT = FaultDecision()


@dataclass
class RequestFaults:
    """One request's decision and the faults its handler reports having applied; the
    middleware leaves it in the ASGI scope under :data:`SCOPE_KEY`."""

    decision: FaultDecision
    route_class: str
    happened: list[str] = field(default_factory=list)

    def lag_cutoff(self, now: float, *, searched: bool = False) -> float | None:
        """The latest creation time a listing shows at ``now`` (one that uses ``search``
        when ``searched``); None when nothing lags."""
        lag = self.decision.search_lag_s
        if searched:
            lag = max(lag, self.decision.search_index_lag_s)
        return now - lag if lag > 0 else None

    def page_size(self, limit: int) -> int:
        """The page size a listing pages by: ``limit``, or half of it on a short page."""
        return max(1, limit // 2) if self.decision.short_page else limit


def request_faults(scope: Mapping[str, Any]) -> RequestFaults:
    """The faults the middleware decided for the request of ``scope`` (none for a request
    it did not decide on, such as an admin call)."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, RequestFaults) else RequestFaults(NO_FAULT, "read")


def told_total(
    lie: str, total: int, items: list[_Item], start: int, size: int
) -> tuple[int, list[_Item]]:
    """The total and items a lying listing answers instead of ``total`` and ``items`` (the
    page of ``size`` from ``start``): see :data:`LIES`. With nothing on the page, the
    total claims a full one."""
    if not items:
        return start + size, items
    if lie == "empty":
        return total, []
    return len(items) - 1, items


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
            # The rest happen (and are counted) only once the handler has answered.
            if route_class == "write":
                decision = self._decide_write(spec, latency_s)
            elif route_class == "read":
                decision = self._decide_read(spec, latency_s)
            else:
                decision = FaultDecision(latency_s)
            return NO_FAULT if decision == NO_FAULT else decision

    def _decide_write(self, spec: FaultSpec, latency_s: float) -> FaultDecision:
        rng = self._rng
        # One answer per write: dropped, or an error, or an earlier object's id.
        if spec.drop_after_commit_rate and rng.random() < spec.drop_after_commit_rate:
            return FaultDecision(latency_s, drop_after_commit=True)
        if spec.commit_then_error_rate and rng.random() < spec.commit_then_error_rate:
            status = rng.choice(spec.commit_then_statuses)
            retry_after = spec.retry_after if status == 429 else None
            return FaultDecision(latency_s, retry_after=retry_after, commit_then_status=status)
        reused = bool(spec.reused_id_rate and rng.random() < spec.reused_id_rate)
        if reused:
            return FaultDecision(latency_s, reused_id=True)
        # Drawn last, and only at a rate above 0: a plan without it replays as before.
        partial = bool(spec.partial_answer_rate and rng.random() < spec.partial_answer_rate)
        return FaultDecision(latency_s, partial_answer=partial)

    def _decide_read(self, spec: FaultSpec, latency_s: float) -> FaultDecision:
        rng = self._rng
        lie = None
        if spec.lying_total_rate and rng.random() < spec.lying_total_rate:
            lie = rng.choice(LIES)
        short = bool(spec.short_page_rate and rng.random() < spec.short_page_rate)
        return FaultDecision(
            latency_s,
            search_lag_s=spec.search_lag_s,
            search_index_lag_s=spec.search_index_lag_s,
            lie=lie,
            short_page=short,
        )

    def count(self, kind: str, route_class: str) -> None:
        """Count a fault that was decided earlier and has now happened."""
        with self._lock:
            self._count_locked(kind, route_class)

    def happened(self, faults: RequestFaults, kind: str) -> None:
        """Count a fault a handler applied to its request, and note it for the request log."""
        self.count(kind, faults.route_class)
        faults.happened.append(kind)

    def listing(
        self, faults: RequestFaults, total: int, items: list[_Item], start: int, limit: int
    ) -> tuple[int, list[_Item]]:
        """The total and items a listing answers, given the true ``total`` and the page of
        ``faults.page_size(limit)`` items from ``start`` (``limit``: the size asked)."""
        size = faults.page_size(limit)
        if size < limit and start + len(items) < total:
            self.happened(faults, "short_page")
        if faults.decision.lie is None:
            return total, items
        self.happened(faults, "lying_total")
        return told_total(faults.decision.lie, total, items, start, size)

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
