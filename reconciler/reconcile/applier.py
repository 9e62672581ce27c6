"""The applier: carry out a plan at Adobe, recording each result as it lands.

Exactly once, for every kind Adobe keeps an object of (work orders, privacy
jobs, dataset expirations); what is sent and looked for is the kind's
(:mod:`reconciler.kinds`), the order of steps is this module's:

1. Before creating, look for the request's tag at Adobe; if found, record it
   (a previous run's response was lost, or the ledger was) instead of creating.
   For kinds Adobe can only list in bulk (privacy jobs, by regulation), the
   plan's listing, made in the same run under the lock, is that look.
2. Write the intent (:mod:`reconciler.reconcile.intents`) durably, then create;
   write the ledger entry at once (atomically), which retires the intent.
3. An answer is believed only when it holds together: ids no other request's
   entry records, the object (read back by id where Adobe allows) carrying this
   request's tag. Anything else, and any failure after the create was sent,
   whatever its status code, is an unknown outcome: look for the tag again, a
   few times with growing waits. Found: record it. Not found: the request is
   ``pending-verification``; it is not sent again in this run, and the intent
   tells later runs to look before anything is sent (the planner's
   ``pending-verification`` and its grace period).

Requests a kind can send together (privacy jobs of one regulation, products and
options: :meth:`~reconciler.kinds.base.RequestKind.batch_key`) are packed into
submissions of at most the kind's ``max_batch`` units (1,000 users for a privacy
job), a request never split between two (:func:`submissions`). The steps stay
per request: every intent of a submission is written before its one create; the
answer is split back by tag, each request believed (step 3) and recorded on its
own; a request the answer leaves out, and every request of a submission whose
outcome is unknown, is looked for by its own tag and recorded or left
``pending-verification`` alone. A submission Adobe refuses outright created
nothing: its requests are then sent one at a time, so one bad request fails alone.

Consent opt-outs leave nothing at Adobe to find (202 without a body): their
intent is all there is, so after an unknown outcome they wait out the same grace
period and are then sent again, which is harmless for them (sending one twice
has the effect of sending it once) and bounded (once per grace period).

Identity values are read from the requests decrypted in memory (validation
decrypts them with the key from the environment); a plan that would send a
request whose values are still encrypted is refused before anything is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_incrementing

from reconciler.adobe import AdobeClient, ApiError, OutcomeUnknownError
from reconciler.errors import ReconcilerError
from reconciler.kinds.base import (
    Created,
    RemoteObject,
    RequestKind,
    recorded_sandbox,
    request_sandbox,
)
from reconciler.model import Request
from reconciler.reconcile.intents import Intent
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger, RemoteJob, StatusRecord, utc_now
from reconciler.reconcile.planner import Action, ActionType, Plan
from reconciler.reconcile.tagging import (
    UNSCOPED,
    Scope,
    Tag,
    read_job_key,
    read_tag,
    same_tagged,
)

log = logging.getLogger("reconciler.apply")

# After an unknown outcome, how often (and how long apart) to look for the tag.
RECOVERY_LOOKUPS = 3
RECOVERY_WAIT_SECONDS = 1.0
# How many conflicts a refusal names with their reasons (the plan shows every one).
SHOWN_CONFLICTS = 3
# Statuses of a refused create that say nothing about whether it was processed: a
# gateway may answer them after the backend committed it (see adobe/retry.py).
UNCERTAIN_STATUSES = frozenset({401, 408, 429})


class ApplyRefused(ReconcilerError):
    """The plan cannot be applied as it is (conflicts, too many identities, stale)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one action. ``message`` is safe to print and commit."""

    action: Action
    ok: bool
    message: str
    remote_ids: tuple[str, ...] = ()
    recovered: bool = False
    # Sent, outcome unknown and not visible at Adobe yet: not a failure, not done.
    pending: bool = False
    # Refused by Adobe for its quota (the plan's figures were behind): a later run sends it.
    deferred: bool = False


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]

    @property
    def success(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def pending(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.pending)

    @property
    def deferred(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.deferred)

    def count(self, kind: ActionType) -> int:
        return sum(
            1
            for o in self.outcomes
            if o.ok and not o.pending and not o.deferred and o.action.type is kind
        )


@dataclass
class _Submission:
    """Creates packed into one submission: their actions and the units they take."""

    actions: list[Action] = field(default_factory=list)
    size: int = 0


def submissions(
    actions: Sequence[Action], requests: Mapping[str, Request]
) -> list[tuple[Action, ...]]:
    """The actions as they are sent: a create whose kind can send several together shares
    a submission with the creates of the same batch key, first fit in plan order, up to
    the kind's ``max_batch`` units and never split; everything else is alone. In the
    order of each submission's first action."""
    units: list[_Submission] = []
    open_: dict[tuple[str, Hashable], list[_Submission]] = {}
    for action in actions:
        request = requests[action.name]
        kind = request.kind
        key = kind.batch_key(request) if action.type is ActionType.CREATE else None
        size = kind.batch_size(request) if key is not None else 0
        if key is None or size > kind.max_batch:
            units.append(_Submission([action], size))
            continue
        candidates = open_.setdefault((kind.value, key), [])
        unit = next((u for u in candidates if u.size + size <= kind.max_batch), None)
        if unit is None:
            unit = _Submission()
            candidates.append(unit)
            units.append(unit)
        unit.actions.append(action)
        unit.size += size
    return [tuple(u.actions) for u in units]


def check_plan(plan: Plan, max_identities: int) -> None:
    """Refuse plans that must not run: conflicts, or more identities than allowed."""
    if plan.conflicts:
        shown = plan.conflicts[:SHOWN_CONFLICTS]
        more = len(plan.conflicts) - len(shown)
        raise ApplyRefused(
            f"the plan has {len(plan.conflicts)} conflict(s), each needing a person: "
            + "; ".join(f"{a.name}: {a.reason}" for a in shown)
            + (f"; and {more} more (see `reconciler plan`)" if more else "")
            + "; nothing was applied"
        )
    if plan.identities_to_submit > max_identities:
        raise ApplyRefused(
            f"the plan submits {plan.identities_to_submit:,} identities, more than the "
            f"{max_identities:,} allowed per run (limits.maxIdentitiesPerRun); raise it for "
            "this run with --max-identities if that is intended; nothing was applied"
        )


class Applier:
    """Executes the changing actions of a plan with the client's bounded concurrency.

    ``sleep`` is what the waits between recovery lookups call: tests give a clock of
    their own."""

    def __init__(
        self,
        client: AdobeClient,
        ledger: Ledger,
        requests: Mapping[str, Request],
        *,
        today: Callable[[], date] = date.today,
        declared_in: Callable[[Request], str | None] = lambda r: None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        history: Mapping[str, tuple[str, Entry]] | None = None,
        guard: Callable[[], None] = lambda: None,
        scope: Scope = UNSCOPED,
        batch: bool = True,
    ) -> None:
        self.scope = scope  # the repository's, for the tags it writes and looks for
        # Whether creates a kind can send together share submissions (apply.batchPrivacyJobs).
        self.batch = batch
        self.client = client
        self.ledger = ledger
        self.requests = requests
        self.today = today
        self.declared_in = declared_in
        self.sleep = sleep
        self.now = now
        # The newest entry git's history holds of requests not in the ledger, and its commit.
        self.history = history or {}
        # Called before each create is sent: raises when this run may no longer send (the
        # remote lease of ``apply --push`` was lost to another run).
        self.guard = guard
        self._lock = threading.Lock()
        # Which request's entry records each remote id: an answer naming one of them
        # for another request is not believed.
        self._owners = {rid: e.name for e in ledger for rid in e.remote_ids}
        self._begun: set[str] = set()

    def declare(self, plan: Plan) -> int:
        """Write the intent of every create in ``plan`` before anything is sent (for the
        caller to commit and push first); how many were written."""
        creates = [a for a in plan.actions if a.type is ActionType.CREATE]
        for action in creates:
            self._begin(self.requests[action.name])
        return len(creates)

    def _begin(self, request: Request) -> None:
        """The intent of this create, on disk before it is sent (once per run)."""
        with self._lock:
            if request.name in self._begun:
                return
            now = self.now()
            earlier = self.ledger.intent(request.name)
            intent = (
                earlier.again(now)
                if earlier is not None
                else Intent.first(
                    request.name, request.kind, str(self.scope.tag(request.name)), now
                )
            )
            self.ledger.put_intent(intent)
            self._begun.add(request.name)

    def apply(self, plan: Plan, on_outcome: Callable[[Outcome], None] | None = None) -> ApplyResult:
        todo = [a for a in plan.actions if a.is_change]
        for action in todo:  # never send a ciphertext to Adobe: refuse before any call
            self.requests[action.name].require_plaintext()
        for name in [n for n in self.ledger.intents if self.ledger.get(n) is not None]:
            self.ledger.drop_intent(name)  # its entry was written; the run stopped before

        def one(unit: tuple[Action, ...]) -> list[Outcome]:
            outcomes = [self._run(unit[0])] if len(unit) == 1 else self._run_batch(unit)
            if on_outcome is not None:
                for outcome in outcomes:
                    on_outcome(outcome)
            return outcomes

        # A submission of several creates is one task among the others: it runs
        # alongside them within the client's bounded concurrency.
        units = submissions(todo, self.requests) if self.batch else [(a,) for a in todo]
        by_name: dict[str, Outcome] = {}
        for result in self.client.map_concurrently(one, units):
            if result.success:
                assert result.value is not None
                by_name.update((o.action.name, o) for o in result.value)
            else:
                by_name.update(
                    (a.name, Outcome(a, False, _reason(result.error))) for a in result.item
                )
        return ApplyResult(tuple(by_name[a.name] for a in todo))

    # -- one action ---------------------------------------------------------------------

    def _run(self, action: Action) -> Outcome:
        request = self.requests[action.name]
        log.info("%s %s %s", action.type.value, request.kind.value, request.name)
        try:
            if action.type is ActionType.UPDATE:
                return self._update(action, request)
            if action.type is ActionType.CANCEL:
                return self._cancel(action, request)
            if action.type is ActionType.ADOPT:
                return self._adopt(action, request)
            if action.type is ActionType.CREATE:
                return self._create(action, request)
            raise ApplyRefused(f"{request.name}: {action.type.value} is not an action to apply")
        except ReconcilerError as e:  # AdobeError, ApplyRefused: this action failed alone
            return Outcome(action, False, _reason(e))

    def _put(self, entry: Entry) -> None:
        with self._lock:
            self.ledger.put(entry)
            self._owners.update((rid, entry.name) for rid in entry.remote_ids)
        log.info("%s recorded in the ledger (%s)", entry.name, ", ".join(entry.remote_ids) or "-")

    def _entry(
        self,
        request: Request,
        objects: Sequence[RemoteObject],
        status: str,
        recovered: bool,
    ) -> Entry:
        kind = request.kind
        keyed = bool(kind.ledger_key)
        request_ids = sorted({o.request_id for o in objects if o.request_id})
        return Entry(
            name=request.name,
            kind=kind,
            path=request.path,
            fingerprint=Fingerprint.of(request),
            submitted_at=utc_now(),
            display_name=request.display_name,
            description=request.description,
            declared_in=self.declared_in(request),
            identity_count=request.identity_count(),
            remote_id=objects[0].remote_id if keyed and objects else None,
            request_id=request_ids[0] if request_ids else None,
            jobs=()
            if keyed
            else tuple(
                RemoteJob(o.remote_id, o.user_key, action=o.action, product=o.product)
                for o in objects
            ),
            status=StatusRecord(status, utc_now()),
            recovered=recovered,
            fields=kind.desired(request),
            org_id=self.client.config.org_id,
            sandbox=request_sandbox(request, self.client.config.sandbox_name),
        )

    def _record(
        self,
        action: Action,
        request: Request,
        objects: Sequence[RemoteObject],
        *,
        status: str,
        recovered: bool,
    ) -> Outcome:
        kind = request.kind
        if recovered and kind.updatable and len(objects) == 1:
            obj = objects[0]
            stale = (
                obj.display_name != request.display_name
                or not same_tagged(obj.description, request.description, request.name)
                or any(obj.fields.get(k, "") != v for k, v in kind.desired(request).items())
            )
            if stale and (not kind.open_statuses or obj.status in kind.open_statuses):
                status = kind.update(self.client, obj.remote_id, request, self.scope)
        self._put(self._entry(request, objects, status, recovered))
        ids = tuple(o.remote_id for o in objects)
        verb = "found at Adobe and recorded" if recovered else "created"
        if not ids:
            return Outcome(action, True, f"submitted (Adobe returns no id for a {kind.noun})")
        shown = ids[0] if len(ids) == 1 else f"{len(ids)} {kind.noun}(s)"
        return Outcome(action, True, f"{verb} {shown}", ids, recovered)

    def _find(self, request: Request) -> list[RemoteObject]:
        """The request's own objects at Adobe: carrying its tag and acting on what it
        declares (another clone's object of the same name is never recorded as ours)."""
        kind = request.kind
        return list(kind.own(request, kind.find(self.client, request, self.today(), self.scope)))

    def _find_after_unknown(self, request: Request) -> list[RemoteObject]:
        """Look for the tag a few times, waiting longer each time (Adobe's listings may
        show a new object only after a while), then once without Adobe's search over the
        days since the intent's first send: a search index that lags or misses must not
        be the only look (as the plan does for an intent it finds)."""
        retrying = Retrying(
            stop=stop_after_attempt(RECOVERY_LOOKUPS),
            wait=wait_incrementing(start=RECOVERY_WAIT_SECONDS, increment=RECOVERY_WAIT_SECONDS),
            retry=retry_if_result(lambda found: not found),
            retry_error_callback=lambda state: [],
            sleep=self.sleep,
        )
        found: list[RemoteObject] = retrying(self._find, request)
        return found or self._find_unsearched(request)

    def _find_unsearched(self, request: Request) -> list[RemoteObject]:
        """The request's own objects among those created since its intent's first send,
        listed without Adobe's search where the kind can (see ``find_since``)."""
        kind = request.kind
        intent = self.ledger.intent(request.name)
        sent = intent.first_sent_at.date() if intent is not None else self.today()
        since = sent - timedelta(days=1)  # a clock slightly ahead of Adobe's
        return list(
            kind.own(
                request, kind.find_since(self.client, request, since, self.today(), self.scope)
            )
        )

    def _create(self, action: Action, request: Request) -> Outcome:
        kind = request.kind
        if kind.findable and kind.look_before_create:
            existing = self._find(request)
            if existing:
                return self._record(
                    action, request, existing, status=existing[0].status, recovered=True
                )
        self.guard()
        self._begin(request)
        try:
            created = kind.create(self.client, request, self.scope)
        except OutcomeUnknownError as e:
            why = f"HTTP {e.status}" if e.status else e.reason
            return self._unknown(action, request, f"{why} after sending")
        except ApiError as e:
            if e.status not in UNCERTAIN_STATUSES and 400 <= e.status < 500:
                with self._lock:  # Adobe refused it: nothing was created
                    self.ledger.drop_intent(request.name)
                if over_quota(e):
                    return _deferred(action, e)
                raise
            return self._unknown(action, request, f"HTTP {e.status} after sending")
        doubt = self._doubt(request, created)
        if doubt:
            log.warning("%s: the create's answer is not believed: %s", request.name, doubt)
            return self._unknown(action, request, doubt)
        return self._record(
            action, request, created.objects, status=created.status, recovered=False
        )

    def _doubt(self, request: Request, created: Created) -> str | None:
        """Why the answer to a create cannot be believed, or None when it holds together."""
        ids = [o.remote_id for o in created.objects]
        if len(set(ids)) != len(ids):
            return "the answer names one id twice"
        with self._lock:
            taken = {rid: self._owners[rid] for rid in ids if rid in self._owners}
        for rid, owner in taken.items():
            if owner != request.name:
                return f"the answer names {rid}, which the ledger records for {owner!r}"
        for obj in created.objects:
            tag = _answered_tag(obj)
            if tag is not None and (not self.scope.owns(tag) or tag.name != request.name):
                return f"the answer's {obj.remote_id} carries the tag {tag}"
        return request.kind.confirm(self.client, request, created.objects, self.scope)

    def _unknown(self, action: Action, request: Request, why: str) -> Outcome:
        """A create that may or may not have reached Adobe: look for it, and otherwise
        leave its intent for later runs to look again; never send it again here."""
        kind = request.kind
        self._mark_unknown(request, why)
        if kind.findable:
            log.info(
                "%s: outcome of the create unknown (%s); looking for its tag", request.name, why
            )
            found = self._find_after_unknown(request)
            if found:
                return self._record(
                    action, request, found, status=_seen(found, kind), recovered=True
                )
            seen = "it is not visible at Adobe yet"
        else:
            seen = f"Adobe keeps no {kind.noun} to look for"
        return _pending(action, why, seen)

    def _mark_unknown(self, request: Request, why: str) -> None:
        """Say in the request's intent why its outcome is unknown (for later runs)."""
        with self._lock:
            intent = self.ledger.intent(request.name)
            if intent is not None:
                self.ledger.put_intent(intent.unknown(why))

    # -- several creates in one submission ----------------------------------------------

    def _run_batch(self, actions: Sequence[Action]) -> list[Outcome]:
        """Creates of one batch key, sent together; one outcome per action, in order."""
        requests = [self.requests[a.name] for a in actions]
        kind = requests[0].kind
        log.info("create %d %s requests in one submission", len(actions), kind.value)
        outcomes: dict[str, Outcome] = {}
        try:
            pairs = list(zip(actions, requests, strict=True))
            if kind.findable and kind.look_before_create:
                found = kind.find_batch(self.client, requests, self.today(), self.scope)
                for action, request in pairs:
                    existing = kind.own(request, found.get(request.name, ()))
                    if existing:
                        outcomes[action.name] = self._record(
                            action, request, existing, status=_seen(existing, kind), recovered=True
                        )
                pairs = [(a, r) for a, r in pairs if a.name not in outcomes]
            if pairs:
                self._send_batch(pairs, outcomes)
        except ReconcilerError as e:  # each request not recorded yet failed with it
            for action in actions:
                outcomes.setdefault(action.name, Outcome(action, False, _reason(e)))
        return [outcomes[a.name] for a in actions]

    def _send_batch(
        self, pairs: Sequence[tuple[Action, Request]], outcomes: dict[str, Outcome]
    ) -> None:
        """Send one submission and put each request's outcome in ``outcomes``."""
        kind = pairs[0][1].kind
        requests = [r for _, r in pairs]
        self.guard()
        # Every intent is on disk before the one create that sends them all: a run killed
        # after sending leaves each request an intent to be looked for by.
        for request in requests:
            self._begin(request)
        for action, request in pairs:
            log.info("%s %s %s", action.type.value, request.kind.value, request.name)
        try:
            answered = kind.create_batch(self.client, requests, self.scope)
        except OutcomeUnknownError as e:
            why = f"HTTP {e.status}" if e.status else e.reason
            self._unknown_batch([(a, r, f"{why} after sending") for a, r in pairs], outcomes)
            return
        except ApiError as e:
            if e.status not in UNCERTAIN_STATUSES and 400 <= e.status < 500:
                # Adobe refused the submission: nothing was created. Whichever request it
                # refused, sent alone it fails alone and the others are created.
                log.warning(
                    "a submission of %d %s requests was refused (HTTP %s); sending each alone",
                    len(pairs),
                    kind.value,
                    e.status,
                )
                for action, request in pairs:
                    try:
                        outcomes[action.name] = self._create(action, request)
                    except ReconcilerError as alone:
                        outcomes[action.name] = Outcome(action, False, _reason(alone))
                return
            self._unknown_batch(
                [(a, r, f"HTTP {e.status} after sending") for a, r in pairs], outcomes
            )
            return
        doubted: list[tuple[Action, Request, str]] = []
        for action, request in pairs:
            created = answered.get(request.name)
            if created is None:
                # Jobs for only some users: the rest may exist or not. Never recorded as done.
                doubted.append(
                    (action, request, "the answer to its submission left out some of its users")
                )
                continue
            doubt = self._doubt(request, created)
            if doubt:
                log.warning("%s: the create's answer is not believed: %s", request.name, doubt)
                doubted.append((action, request, doubt))
                continue
            outcomes[action.name] = self._record(
                action, request, created.objects, status=created.status, recovered=False
            )
        if doubted:
            self._unknown_batch(doubted, outcomes)

    def _unknown_batch(
        self, unknown: Sequence[tuple[Action, Request, str]], outcomes: dict[str, Outcome]
    ) -> None:
        """:meth:`_unknown` for requests of one submission: each one's tag looked for, in
        one look for all of them each time (as many looks, as far apart, then each one
        without the search); each request found is recorded alone, each one not found is
        pending alone. Nothing is sent."""
        for _, request, why in unknown:
            self._mark_unknown(request, why)
        kind = unknown[0][1].kind
        if not kind.findable:
            for action, _, why in unknown:
                outcomes[action.name] = _pending(
                    action, why, f"Adobe keeps no {kind.noun} to look for"
                )
            return
        log.info(
            "outcome of the create unknown for %d %s requests sent together; looking for "
            "their tags",
            len(unknown),
            kind.value,
        )
        missing = {request.name: (action, request) for action, request, _ in unknown}
        for attempt in range(RECOVERY_LOOKUPS):
            if attempt:  # the same growing waits as one request's lookups
                self.sleep(RECOVERY_WAIT_SECONDS * attempt)
            found = kind.find_batch(
                self.client, [r for _, r in missing.values()], self.today(), self.scope
            )
            for name, (action, request) in list(missing.items()):
                own = kind.own(request, found.get(name, ()))
                if own:
                    outcomes[name] = self._record(
                        action, request, own, status=_seen(own, kind), recovered=True
                    )
                    del missing[name]
            if not missing:
                return
        for action, request, why in unknown:
            if request.name not in missing:
                continue
            # Then once without the search, as for one request (nothing to read for a kind
            # whose find_batch already lists without it).
            unsearched = self._find_unsearched(request)
            if unsearched:
                outcomes[action.name] = self._record(
                    action, request, unsearched, status=_seen(unsearched, kind), recovered=True
                )
            else:
                outcomes[action.name] = _pending(action, why, "it is not visible at Adobe yet")

    def _adopt(self, action: Action, request: Request) -> Outcome:
        found = self._find(request)
        earlier = self.history.get(request.name)
        if not found and earlier is not None:  # see the planner's ``_lost_entry``
            sha, entry = earlier
            self._put(replace(entry, path=request.path, recovered=True))
            return Outcome(
                action,
                True,
                f"restored from the ledger's history (commit {sha[:12]})",
                entry.remote_ids,
                recovered=True,
            )
        if not found:
            raise ApplyRefused(
                f"{request.name}: the tagged {request.kind.noun} is gone from Adobe; plan again"
            )
        return self._record(
            action, request, found, status=_seen(found, request.kind), recovered=True
        )

    def _applied(self, request: Request) -> Entry:
        entry = self.ledger.get(request.name)
        if entry is None or entry.remote_id is None:
            raise ApplyRefused(f"{request.name}: not in the ledger with a remote id; plan again")
        return entry

    def _update(self, action: Action, request: Request) -> Outcome:
        entry = self._applied(request)
        assert entry.remote_id is not None
        status = request.kind.update(self.client, entry.remote_id, request, self.scope)
        self._put(
            replace(
                entry,
                display_name=request.display_name,
                description=request.description,
                path=request.path,
                fields=request.kind.desired(request),
                status=StatusRecord(status, utc_now()),
            )
        )
        fields = ", ".join(c.field for c in action.changes)
        return Outcome(action, True, f"updated {fields} of {entry.remote_id}", entry.remote_ids)

    def _cancel(self, action: Action, request: Request) -> Outcome:
        if self.ledger.get(request.name) is None:  # found by its tag: record it first
            found = self._find(request)
            if not found:
                raise ApplyRefused(
                    f"{request.name}: the tagged {request.kind.noun} is gone from Adobe; plan again"
                )
            self._put(self._entry(request, found, _seen(found, request.kind), True))
        entry = self._applied(request)
        assert entry.remote_id is not None
        sandbox = recorded_sandbox(entry.kind, entry.sandbox, None)
        client = self.client.in_sandbox(sandbox) if sandbox else self.client
        status = request.kind.cancel(client, entry.remote_id)
        self._put(replace(entry, path=request.path, status=StatusRecord(status, utc_now())))
        return Outcome(action, True, f"cancelled {entry.remote_id} ({status})", entry.remote_ids)


def over_quota(error: ApiError) -> bool:
    """Whether Adobe refused a create for its quota. Adobe documents no error code for it
    (the processing-timelines page only says going over "prevents new requests from being
    accepted"), so the message is read: the emulator's, and any that names the quota."""
    return error.status == 400 and "quota" in (error.message or "").lower()


def _deferred(action: Action, error: ApiError) -> Outcome:
    return Outcome(
        action,
        True,
        f"deferred: Adobe refused it for its quota ({printable_reason(error)}); nothing was "
        "created, and a later run sends it once the quota allows",
        deferred=True,
    )


def printable_reason(error: ApiError) -> str:
    return (error.message or f"HTTP {error.status}").splitlines()[0][:200]


def _answered_tag(obj: RemoteObject) -> Tag | None:
    """The tag an answered object carries, of any scope (None when the answer shows none)."""
    if obj.user_key:
        parts = read_job_key(obj.user_key)
        return parts[0] if parts else None
    return read_tag(obj.description)[1] if obj.description else None


def _pending(action: Action, why: str, seen: str) -> Outcome:
    """The outcome of a create sent, with no answer believed, and not found at Adobe."""
    return Outcome(
        action,
        True,
        f"pending verification: sent, outcome unknown ({why}) and {seen}; not sent "
        "again. The next runs look for it first, and send it again only after "
        "apply.resendAfter (or with --resend)",
        pending=True,
    )


def _seen(found: Sequence[RemoteObject], kind: RequestKind) -> str:
    """The status to record for objects found at Adobe (a listing may show none)."""
    return (found[0].status if found else "") or kind.found_status


def _reason(error: BaseException | None) -> str:
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"unexpected {error.__class__.__name__}" if error else "unknown failure"
