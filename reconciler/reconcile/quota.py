"""Adobe's quotas in the plan: what is consumed, what the plan would consume, what must wait.

Online, ``GET /quota`` is read once per plan (only when a create consumes a quota);
offline, or when Adobe does not answer it, consumption is estimated from the ledger's
recorded submissions and the plan says so. Each quota's limit is the lower of Adobe's
and the budget in ``limits`` (reconciler.yaml).

:func:`allot` goes through the plan's creates in order (earliest deadline first; until
requests carry one, the oldest declared) and turns each that does not fit what remains
into a ``defer`` with the quota, what is left and the date it can go. Once one request
waits for a quota, every later one that needs it waits too: a small request never
takes the place of an earlier one, which could otherwise wait forever. A request
larger than a whole quota can never fit: that is a conflict, for a person to split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from reconciler.adobe.errors import AdobeError
from reconciler.adobe.quotas import (
    ACTIVE_EXPIRATIONS,
    DAILY_IDENTITIES,
    DOCUMENTED,
    LABELS,
    MONTHLY_IDENTITIES,
    PERIODS,
    Period,
    counted_in,
    next_reset,
)
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.planner import Action, ActionType, Plan

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.settings import Limits

log = logging.getLogger("reconciler.plan")

ADOBE = "Adobe"
ESTIMATE = "estimate"
# Where a request the order does not name goes: after every one it names.
UNORDERED = (2, 0.0)


@dataclass(frozen=True)
class Allowance:
    """One quota as the plan sees it: consumed so far, the limit that applies (the lower of
    Adobe's and the budget), and what the plan's creates would consume of it."""

    name: str
    consumed: int
    limit: int
    adobe_limit: int | None = None
    budget: int | None = None
    planned: int = 0

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    @property
    def remaining(self) -> int:
        """What is left before the plan."""
        return max(0, self.limit - self.consumed)

    @property
    def left_after(self) -> int:
        return max(0, self.limit - self.consumed - self.planned)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "consumed": self.consumed,
            "limit": self.limit,
            "adobeLimit": self.adobe_limit,
            "budget": self.budget,
            "plan": self.planned,
            "remaining": self.left_after,
        }


@dataclass(frozen=True)
class QuotaState:
    """The quotas a plan was allotted against, and where their figures came from."""

    allowances: tuple[Allowance, ...]
    source: str  # ADOBE, or ESTIMATE from the ledger
    note: str = ""  # why an online plan estimated

    @property
    def estimated(self) -> bool:
        return self.source == ESTIMATE

    def get(self, name: str) -> Allowance | None:
        return next((a for a in self.allowances if a.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "note": self.note,
            "quotas": [a.to_json() for a in self.allowances],
        }


def budgets(limits: Limits) -> dict[str, int | None]:
    """The lower budgets reconciler.yaml sets, by quota name."""
    return {
        DAILY_IDENTITIES: limits.identities_per_day,
        MONTHLY_IDENTITIES: limits.identities_per_month,
        ACTIVE_EXPIRATIONS: limits.active_expirations,
    }


def _limit(adobe: int | None, budget: int | None) -> int | None:
    known = [x for x in (adobe, budget) if x is not None]
    return min(known) if known else None


def read_quota(client: AdobeClient, ledger: Ledger, limits: Limits, today: date) -> QuotaState:
    """Adobe's figures (one ``GET /quota``); the ledger's estimate, with the reason, when
    Adobe does not answer it (a missing permission, an outage)."""
    try:
        quotas = {q.name: q for q in client.hygiene.get_quota()}
    except AdobeError as e:
        reason = str(e).splitlines()[0][:200]
        log.info("GET /quota failed (%s): estimating from the ledger", reason)
        return estimate_quota(
            ledger,
            limits,
            today,
            note=f"Adobe's quotas could not be read ({reason}): estimated from the ledger",
        )
    wanted = budgets(limits)
    allowances = []
    for name in PERIODS:
        got = quotas.get(name)
        budget = wanted.get(name)
        if got is None:
            # Not reported (an older gateway): a budget still applies, on the estimate.
            if budget is not None:
                used = _estimated_use(ledger, today).get(name, 0)
                allowances.append(Allowance(name, used, budget, None, budget))
            continue
        limit = _limit(got.quota, budget)
        assert limit is not None
        allowances.append(Allowance(name, got.consumed, limit, got.quota, budget))
    return QuotaState(tuple(allowances), ADOBE)


def _estimated_use(ledger: Ledger, today: date) -> dict[str, int]:
    """What the ledger's recorded submissions still count against each quota today."""
    used: dict[str, int] = {}
    for entry in ledger:
        try:
            submitted = datetime.fromisoformat(entry.submitted_at.replace("Z", "+00:00")).date()
        except ValueError:  # the ledger's schema checks it; a stray one counts as today
            submitted = today
        for name, count in entry.kind.consumption(entry.identity_count).items():
            period = PERIODS.get(name)
            if period is None:
                continue
            if period is Period.ACTIVE:
                if entry.kind.is_final(entry.status):
                    continue
            elif not counted_in(period, submitted, today):
                continue
            used[name] = used.get(name, 0) + count
    return used


def estimate_quota(ledger: Ledger, limits: Limits, today: date, note: str = "") -> QuotaState:
    """An offline plan's figures: consumption from the ledger's recorded submissions,
    limits from the budgets or Adobe's documented defaults (a quota with neither is left
    out: nothing is known of it)."""
    used = _estimated_use(ledger, today)
    wanted = budgets(limits)
    allowances = []
    for name in PERIODS:
        documented = DOCUMENTED.get(name)
        limit = _limit(documented, wanted.get(name))
        if limit is None:
            continue
        allowances.append(Allowance(name, used.get(name, 0), limit, documented, wanted.get(name)))
    return QuotaState(tuple(allowances), ESTIMATE, note)


def consumes(plan: Plan) -> bool:
    """Whether any create of ``plan`` consumes a quota (else there is nothing to read)."""
    return any(
        a.type is ActionType.CREATE and a.kind.consumption(a.identity_count) for a in plan.actions
    )


def allot(
    plan: Plan, quota: QuotaState, order: Mapping[str, tuple[int, float]], today: date
) -> Plan:
    """``plan`` with each create that does not fit ``quota`` deferred (or, larger than a
    whole quota, a conflict), taken in ``order`` (smaller first; unnamed last, by name),
    and the quota's figures attached."""
    known = {a.name: a for a in quota.allowances}
    left = {name: a.remaining for name, a in known.items()}
    planned = dict.fromkeys(known, 0)
    waiting: dict[str, str] = {}  # quota name -> the first request that waits for it
    changed: dict[str, Action] = {}
    creates = [a for a in plan.actions if a.type is ActionType.CREATE]
    creates.sort(key=lambda a: (order.get(a.name, UNORDERED), a.name))
    for action in creates:
        need = {
            n: c for n, c in action.kind.consumption(action.identity_count).items() if n in known
        }
        whole = [n for n, c in need.items() if c > known[n].limit]
        if whole:
            changed[action.name] = replace(
                action, type=ActionType.CONFLICT, reason=_too_large(action, need, whole, known)
            )
            continue
        short = [n for n, c in need.items() if n in waiting or c > left[n]]
        if short:
            changed[action.name] = replace(
                action,
                type=ActionType.DEFER,
                reason=_deferral(action, need, short, known, left, waiting, today, quota),
            )
            for n in short:
                waiting.setdefault(n, action.name)
            continue
        for n, c in need.items():
            left[n] -= c
            planned[n] += c
    allowances = tuple(replace(a, planned=planned[a.name]) for a in quota.allowances)
    actions = [changed.get(a.name, a) if a.type is ActionType.CREATE else a for a in plan.actions]
    rank = {t: i for i, t in enumerate(ActionType)}
    actions.sort(key=lambda a: (rank[a.type], a.name))
    return replace(plan, actions=tuple(actions), quota=replace(quota, allowances=allowances))


def _when(name: str, today: date) -> str:
    period = PERIODS[name]
    reset = next_reset(period, today)
    if reset is None:
        return "when an active one executes or is cancelled"
    if period is Period.DAY:
        return f"from {reset.isoformat()} (the daily quota resets at 00:00 GMT)"
    return f"from {reset.isoformat()} (the monthly quota resets on the 1st)"


def _deferral(
    action: Action,
    need: Mapping[str, int],
    short: Sequence[str],
    known: Mapping[str, Allowance],
    left: Mapping[str, int],
    waiting: Mapping[str, str],
    today: date,
    quota: QuotaState,
) -> str:
    name = short[0]
    allowance = known[name]
    estimate = " (estimated from the ledger)" if quota.estimated else ""
    if name in waiting:
        why = f"waits behind {waiting[name]}, which goes first for {allowance.label}"
    else:
        why = (
            f"needs {need[name]:,} of {allowance.label}, {left[name]:,} left of "
            f"{allowance.limit:,}{estimate}"
        )
    return f"deferred: {why}; can go {_when(name, today)}, applied by a later run"


def _too_large(
    action: Action, need: Mapping[str, int], whole: Sequence[str], known: Mapping[str, Allowance]
) -> str:
    name = whole[0]
    allowance = known[name]
    source = "the budget in limits" if allowance.budget == allowance.limit else "Adobe's quota"
    return (
        f"needs {need[name]:,} of {allowance.label}, more than the whole of {source} "
        f"({allowance.limit:,}): it can never be applied as it is; split it into smaller "
        "requests (or raise the budget in reconciler.yaml's limits)"
    )
