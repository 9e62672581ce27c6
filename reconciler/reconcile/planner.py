"""The planner: declared requests × ledger × remote state → actions.

A pure function of its inputs, so a saved plan can be checked for staleness
by planning again and comparing. Actions:

* ``create``   declared, not in the ledger, not found at Adobe by its tag;
* ``adopt``    declared, not in the ledger, but found at Adobe by its tag (a
               lost response or a lost ledger), or recorded in the ledger's history
               in git (an entry lost after Adobe stopped listing the object):
               recorded, never created again;
* ``update``   applied, but a mutable field (``displayName``, ``description``, an
               expiration's ``expiry``) differs from Adobe (or, offline, from what
               was last applied), and the kind can change it at Adobe;
* ``cancel``   applied (or found by its tag), declared ``cancelled: true``, and not
               cancelled at Adobe yet, for kinds Adobe lets cancel;
* ``defer``    would be ``create``, but does not fit what remains of one of Adobe's
               quotas (or a lower budget) today or this month: applied by a later run
               (:mod:`reconciler.reconcile.quota`);
* ``noop``     applied and unchanged;
* ``conflict`` applied, but an immutable field changed since: needs a new request;
* ``orphan``   in the ledger, file gone: nothing can be undone remotely;
* ``pending-verification``  declared, not in the ledger, not found at Adobe, but a
               create was sent with no outcome recorded (an intent, see
               :mod:`reconciler.reconcile.intents`): not sent again until the grace
               period after that send has passed (then ``create``, saying so), or
               earlier when named with ``apply --resend``.

Fingerprints are computed on decrypted identity values, so re-encrypting a
file (new recipients, a rotated key) changes nothing here. Offline and
without the key, an applied request with encrypted values cannot be
fingerprinted: its kind and identity count are compared with the ledger,
and the action says the rest was not checked. Online planning needs every
value decrypted (:class:`~reconciler.secrets.crypto.KeyMissingError` otherwise).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from reconciler.kinds import RequestKind
from reconciler.kinds.base import RemoteObject, recorded_sandbox, request_sandbox
from reconciler.model import Request
from reconciler.reconcile.deadlines import AT_RISK_DAYS, Deadline
from reconciler.reconcile.intents import Intent
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger
from reconciler.reconcile.lifecycle import request_deadline
from reconciler.reconcile.tagging import same_tagged, tagged, untag
from reconciler.settings import DEFAULT_GRACE

if TYPE_CHECKING:
    from reconciler.reconcile.quota import QuotaState


class ActionType(StrEnum):
    CREATE = "create"
    DEFER = "defer"
    ADOPT = "adopt"
    UPDATE = "update"
    CANCEL = "cancel"
    NOOP = "noop"
    CONFLICT = "conflict"
    ORPHAN = "orphan"
    PENDING = "pending-verification"


# How the reason of a create that sends a request again begins (a visible decision).
RESEND = "sent again"
# What the reason of a create that submits a failed request again says (retryOf).
RETRY = "retry of "
CHANGES = (ActionType.CREATE, ActionType.ADOPT, ActionType.UPDATE, ActionType.CANCEL)
# The reason of an offline action whose encrypted identities could not be compared.
UNCHECKED = (
    "identities are encrypted and no key was given: compared with the ledger by kind and "
    "count only; the values are checked where the key is (apply)"
)


@dataclass(frozen=True)
class Change:
    """A mutable field whose value differs: ``before`` is what Adobe (or the ledger) has."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RemoteState:
    """Remote objects found by tag (by request name) and by ledger id."""

    by_name: Mapping[str, tuple[RemoteObject, ...]] = field(default_factory=dict)
    by_id: Mapping[str, RemoteObject] = field(default_factory=dict)
    calls: int = 0
    # How Adobe was read, when the plan must say it (a search found untrustworthy).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """One step of a plan. Holds counts and namespaces, never identity values."""

    type: ActionType
    name: str
    kind: RequestKind
    path: str
    reason: str = ""
    identity_count: int = 0
    namespaces: tuple[str, ...] = ()
    target: str = ""
    changes: tuple[Change, ...] = ()
    remote_ids: tuple[str, ...] = ()
    # A data subject's request: when it is due (from metadata.receivedAt), on the plan's day.
    deadline: Deadline | None = None
    # The Data Hygiene sandbox the action acts in; None for org-wide kinds (or unknown).
    sandbox: str | None = None

    @property
    def is_change(self) -> bool:
        return self.type in CHANGES

    @property
    def resend(self) -> bool:
        """A create of a request whose earlier create's outcome is unknown."""
        return self.type is ActionType.CREATE and self.reason.startswith(RESEND)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.type.value,
            "name": self.name,
            "kind": self.kind.value,
            "path": self.path,
            "reason": self.reason,
            "identityCount": self.identity_count,
            "namespaces": list(self.namespaces),
            "target": self.target,
            "changes": [
                {"field": c.field, "before": c.before, "after": c.after} for c in self.changes
            ],
            "remoteIds": list(self.remote_ids),
            "deadline": self.deadline.to_json() if self.deadline else None,
            "sandbox": self.sandbox,
        }


@dataclass(frozen=True)
class Plan:
    """The ordered actions and whether they were planned against Adobe or offline."""

    actions: tuple[Action, ...]
    online: bool
    notes: tuple[str, ...] = ()
    # The quotas the creates were allotted against (None: no create consumes one).
    quota: QuotaState | None = None

    def count(self, kind: ActionType) -> int:
        return sum(1 for a in self.actions if a.type is kind)

    @property
    def has_changes(self) -> bool:
        return any(a.is_change for a in self.actions)

    @property
    def conflicts(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.type is ActionType.CONFLICT)

    @property
    def identities_to_submit(self) -> int:
        return sum(a.identity_count for a in self.actions if a.type is ActionType.CREATE)


def _changes(
    request: Request, display_name: str, description: str, fields: Mapping[str, str]
) -> tuple[Change, ...]:
    """The mutable fields whose value at Adobe (or in the ledger) differs from the file."""
    changes = []
    if display_name != request.display_name:
        changes.append(Change("displayName", display_name, request.display_name))
    if not same_tagged(description, request.description, request.name):  # scoped or not
        before, name = untag(description)
        if name == request.name:
            changes.append(Change("description", before, request.description))
        else:  # the tag is missing (an imported work order, a hand edit): show it restored
            changes.append(
                Change("description", description, tagged(request.description, request.name))
            )
    for key, wanted in request.kind.desired(request).items():
        if fields.get(key, "") != wanted:
            changes.append(Change(key, fields.get(key, ""), wanted))
    return tuple(changes)


class _Planner:
    """Plans one declared request; ``now`` decides what Adobe would refuse as too soon."""

    def __init__(
        self,
        remote: RemoteState | None,
        now: datetime,
        intents: Mapping[str, Intent],
        grace: timedelta,
        resend: frozenset[str],
        history: Mapping[str, tuple[str, Entry]],
        margin: int = AT_RISK_DAYS,
        sandbox: str | None = None,
    ) -> None:
        self.margin = margin
        self.sandbox = sandbox  # the default one (adobe.sandboxName); None: unknown here
        self.remote = remote
        self.now = now
        self.intents = intents
        self.grace = grace
        self.resend = resend
        self.history = history

    def plan(self, request: Request, entry: Entry | None) -> Action:
        kind = request.kind
        namespaces = tuple(sorted({i.namespace for i in request.identities()}))
        count = request.identity_count()
        sandbox = request_sandbox(request, self.sandbox)

        def make(type_: ActionType, **kw: Any) -> Action:
            return Action(
                type_,
                request.name,
                kind,
                request.path,
                identity_count=count,
                namespaces=namespaces,
                target=kind.target(request.spec),
                deadline=request_deadline(request, entry, self.now.date(), self.margin),
                sandbox=sandbox,
                **kw,
            )

        if entry is None:
            return self._unrecorded(request, make)
        applied_in = recorded_sandbox(entry.kind, entry.sandbox, self.sandbox)
        if sandbox is not None and applied_in is not None and sandbox != applied_in:
            # The sandbox is part of what was deleted: like an immutable field, never sent
            # as an update (nor read, updated or refreshed in the other sandbox).
            return make(
                ActionType.CONFLICT,
                reason=f"sandbox changed after it was applied: applied in {applied_in}, the "
                f"file now says {sandbox}; Adobe cannot move a {kind.noun}: restore "
                f"metadata.sandbox: {applied_in} and declare a new request with a new name "
                "for the other sandbox",
                remote_ids=entry.remote_ids,
            )
        note = ""
        if request.locked:  # offline, without the key
            changed = entry.kind is not kind or (
                entry.identity_count > 0 and entry.identity_count != count
            )
            note = UNCHECKED
        else:
            changed = entry.kind is not kind or not entry.fingerprint.matches(request)
        if changed:
            what = "kind" if entry.kind is not kind else "identities or other immutable fields"
            return make(
                ActionType.CONFLICT,
                reason=f"{what} changed after it was applied; Adobe cannot change them: "
                "restore the file and declare a new request with a new name",
                remote_ids=entry.remote_ids,
            )
        remote = self.remote
        current = remote.by_id.get(entry.remote_id or "") if remote is not None else None
        if remote is not None and entry.remote_id and kind.ledger_key:
            unconfirmed = self._unconfirmed(request, entry, current, make)
            if unconfirmed is not None:
                return unconfirmed
        if current is not None:
            status = current.status
        else:
            status = entry.status.value if entry.status is not None else ""
        where = "at Adobe" if current is not None else "when last seen"
        if kind.cancellable and kind.cancelled(request):
            if status == "cancelled":
                return make(ActionType.NOOP, reason="cancelled", remote_ids=entry.remote_ids)
            if current is not None and status not in kind.open_statuses:
                return make(
                    ActionType.CONFLICT,
                    reason=f"cannot cancel: it is {status} {where}; Adobe cancels a "
                    f"{kind.noun} only while it is {' or '.join(sorted(kind.open_statuses))}",
                    remote_ids=entry.remote_ids,
                )
            return make(ActionType.CANCEL, reason="declared cancelled", remote_ids=entry.remote_ids)
        changes: tuple[Change, ...] = ()
        if kind.updatable:
            if current is not None:
                changes = _changes(
                    request, current.display_name, current.description, current.fields
                )
            else:  # offline: compare with what was last applied
                changes = _changes(
                    request,
                    entry.display_name,
                    tagged(entry.description, request.name),
                    entry.fields,
                )
        if not changes:
            return make(ActionType.NOOP, reason=note, remote_ids=entry.remote_ids)
        if kind.open_statuses and status and status not in kind.open_statuses:
            fields = ", ".join(c.field for c in changes)
            return make(
                ActionType.CONFLICT,
                reason=f"{fields} changed, but the {kind.noun} is {status} {where}: Adobe "
                f"changes it only while {' or '.join(sorted(kind.open_statuses))}; restore "
                "the file",
                changes=changes,
                remote_ids=entry.remote_ids,
            )
        too_soon = (
            kind.too_soon(request, self.now)
            if any(c.field in kind.desired(request) for c in changes)
            else None
        )
        if too_soon:
            return make(ActionType.CONFLICT, reason=too_soon, remote_ids=entry.remote_ids)
        fields = "/".join(c.field for c in changes)
        return make(
            ActionType.UPDATE,
            reason=(
                f"{fields} differ from Adobe"
                if remote is not None
                else f"{fields} differ from what was applied"
            )
            + (f"; {note}" if note else ""),
            changes=changes,
            remote_ids=entry.remote_ids,
        )

    def _unconfirmed(
        self,
        request: Request,
        entry: Entry,
        current: RemoteObject | None,
        make: Callable[..., Action],
    ) -> Action | None:
        """Online, a ledger entry counts as applied only when Adobe confirms it: the object
        exists, carries this request's tag (or none, for an imported one) and acts on what
        the file declares. None when it does; else the action that says what Adobe has."""
        kind = request.kind
        rid = entry.remote_id
        if current is not None:
            _, owner = untag(current.description)
            if owner is not None and owner != request.name:
                return make(
                    ActionType.CONFLICT,
                    reason=f"the ledger records {rid}, but at Adobe that {kind.noun} carries "
                    f"the tag of request {owner!r}: this ledger entry describes another "
                    "request; restore the ledger file from the apply job's commit",
                    remote_ids=entry.remote_ids,
                )
            differs = kind.mismatch(request, current)
            if differs:
                return make(
                    ActionType.CONFLICT,
                    reason=f"the ledger records {rid}, but it is not this request: "
                    f"{'; '.join(differs)}; restore the ledger file from the apply job's "
                    "commit (or, if the file was changed, restore the file)",
                    remote_ids=entry.remote_ids,
                )
            return None
        assert self.remote is not None
        tagged_here = self.remote.by_name.get(request.name, ())
        own = kind.own(request, tagged_here)
        if own:
            ids = tuple(o.remote_id for o in own)
            return make(
                ActionType.ADOPT,
                reason=f"the ledger records {rid}, which Adobe does not have; found by its "
                f"tag as {', '.join(ids)}: recorded instead, not re-created",
                remote_ids=ids,
            )
        return make(
            ActionType.CREATE,
            reason=f"the ledger records {rid}, but Adobe has no such {kind.noun} and none "
            "carries this request's tag: it was never applied (a ledger entry no apply "
            "wrote), so it is created",
        )

    def _unrecorded(self, request: Request, make: Callable[..., Action]) -> Action:
        kind = request.kind
        remote = self.remote
        every = remote.by_name.get(request.name, ()) if remote is not None else ()
        foreign = [o for o in every if kind.mismatch(request, o)]
        strangers = {o.remote_id for o in foreign}
        found = kind.choose([o for o in every if o.remote_id not in strangers])
        if foreign and not found:
            first = foreign[0]
            return make(
                ActionType.CONFLICT,
                reason=f"{first.remote_id} carries this request's tag at Adobe but is not "
                f"this request: {'; '.join(kind.mismatch(request, first))}. Another request "
                "of this name made it (another clone or repository); name this request "
                "anew",
                remote_ids=tuple(o.remote_id for o in foreign),
            )
        if not found and request.metadata.get("imported"):
            return make(
                ActionType.CONFLICT,
                reason="imported request has no ledger entry and no tagged work order: it "
                "cannot be created (its identities are unknown); run `reconciler import` again",
            )
        if not found:
            if kind.cancellable and kind.cancelled(request):
                return make(ActionType.NOOP, reason="declared cancelled and never created")
            too_soon = kind.too_soon(request, self.now)
            if too_soon:
                return make(ActionType.CONFLICT, reason=too_soon)
            # Kinds confirmed by id at Adobe (work orders, expirations) are not: for them an
            # entry whose object Adobe lacks is one no apply wrote (see ``_unconfirmed``).
            earlier = self.history.get(request.name)
            if earlier is not None and not kind.ledger_key:
                return self._lost_entry(request, *earlier, make)
            intent = self.intents.get(request.name)
            if intent is not None:
                return self._sent_before(request, intent, make)
            return make(ActionType.CREATE, reason="not yet at Adobe")
        ids = tuple(o.remote_id for o in found)
        if kind.cancellable and kind.cancelled(request) and found[0].status != "cancelled":
            if found[0].status not in kind.open_statuses:
                return make(
                    ActionType.CONFLICT,
                    reason=f"found at Adobe by its tag, {found[0].status}: Adobe cancels a "
                    f"{kind.noun} only while {' or '.join(sorted(kind.open_statuses))}",
                    remote_ids=ids,
                )
            return make(
                ActionType.CANCEL,
                reason="found at Adobe by its tag but missing from the ledger, and declared "
                "cancelled: recorded and cancelled",
                remote_ids=ids,
            )
        changes: tuple[Change, ...] = ()
        if kind.updatable and len(found) == 1:
            first = found[0]
            changes = _changes(request, first.display_name, first.description, first.fields)
        why = "found at Adobe by its tag but missing from the ledger: recorded, not re-created"
        if foreign:
            why += (
                f"; {', '.join(o.remote_id for o in foreign)} carr"
                f"{'ies' if len(foreign) == 1 else 'y'} the same tag but not this request's "
                "content, and are left alone"
            )
        elif len(every) > len(found):
            why += (
                f" ({len(every)} tagged {kind.noun}s exist; the one recorded is {', '.join(ids)})"
            )
        return make(ActionType.ADOPT, reason=why, changes=changes, remote_ids=ids)

    def _lost_entry(
        self, request: Request, sha: str, entry: Entry, make: Callable[..., Action]
    ) -> Action:
        """Not in the ledger and not found at Adobe, but the ledger's history in git
        records it applied: its entry was lost, and Adobe may simply no longer list it
        (privacy jobs are listed 60 days back). Restored from history, never re-created."""
        kind = request.kind
        same = entry.kind is kind and (request.locked or entry.fingerprint.matches(request))
        if not same:
            return make(
                ActionType.CONFLICT,
                reason=f"not in the ledger, but commit {sha[:12]} recorded a different request "
                f"of this name as applied ({', '.join(entry.remote_ids) or 'no remote id'}): "
                "names are never reused; name this request anew",
                remote_ids=entry.remote_ids,
            )
        ids = ", ".join(entry.remote_ids[:3]) + ("…" if len(entry.remote_ids) > 3 else "")
        return make(
            ActionType.ADOPT,
            reason="missing from the ledger and not listed by Adobe, but the ledger's history "
            f"records it applied ({ids or 'no remote id'}, commit {sha[:12]}): restored from "
            "there, not re-created",
            remote_ids=entry.remote_ids,
        )

    def _sent_before(self, request: Request, intent: Intent, make: Callable[..., Action]) -> Action:
        """A request not found at Adobe whose create was sent before with no outcome
        recorded: it may be there yet invisible (Adobe documents no bound on how soon
        its listings show a new object). Sent again only once the grace period has
        passed, or when a person asked for it; a visible decision either way."""
        kind = request.kind
        what = intent.describe()
        if self.remote is None:
            return make(
                ActionType.PENDING,
                reason=f"{what}; the apply job looks for it at Adobe before sending anything",
            )
        if request.name in self.resend:
            return make(
                ActionType.CREATE,
                reason=f"sent again as asked (--resend): {what}, and no {kind.noun} carrying "
                "its tag is visible at Adobe",
            )
        if intent.due(self.now, self.grace):
            return make(
                ActionType.CREATE,
                reason=f"sent again: {what}, and no {kind.noun} carrying its tag is visible at "
                f"Adobe {_span(self.grace)} later (apply.resendAfter)",
            )
        resend_at = intent.resend_at(self.grace).strftime("%Y-%m-%d %H:%M:%SZ")
        seen = (
            "not visible at Adobe yet, neither by its tag nor in the listing since it was "
            "sent. Not sent again before"
            if kind.findable
            else f"Adobe keeps no {kind.noun} to look for. Sent again (harmless) from"
        )
        unless = " unless it appears" if kind.findable else ""
        return make(
            ActionType.PENDING,
            reason=f"{what}; {seen} {resend_at} (apply.resendAfter){unless}; "
            f"`reconciler apply --resend {request.name}` sends it earlier",
        )


def _span(grace: timedelta) -> str:
    seconds = int(grace.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def plan_changes(
    requests: Sequence[Request],
    ledger: Ledger,
    remote: RemoteState | None,
    now: datetime | None = None,
    *,
    grace: timedelta = DEFAULT_GRACE,
    resend: Iterable[str] = (),
    history: Mapping[str, tuple[str, Entry]] | None = None,
    margin: int = AT_RISK_DAYS,
    sandbox: str | None = None,
) -> Plan:
    """Compare declared requests with the ledger and (when given) Adobe's state.

    Online (``remote`` given), every request must be decrypted: what is planned
    against Adobe is applied, and applying needs the values. ``grace`` is how long
    after a create with an unknown outcome the request may be sent again; ``resend``
    names requests to send again earlier. ``history`` holds, for requests not in the
    ledger, the newest entry git's history has of them and its commit. ``sandbox`` is the
    default sandbox (``adobe.sandboxName``): that of requests naming none and of entries
    recording none; a request applied in another sandbox than it now names is a conflict."""
    if remote is not None:
        for request in requests:
            request.require_plaintext()
    planner = _Planner(
        remote,
        now or datetime.now(UTC),
        ledger.intents,
        grace,
        frozenset(resend),
        history or {},
        margin,
        sandbox,
    )
    actions = [planner.plan(r, ledger.get(r.name)) for r in requests]
    declared = {r.name for r in requests}
    for entry in ledger:
        if entry.name not in declared:
            actions.append(
                Action(
                    ActionType.ORPHAN,
                    name=entry.name,
                    kind=entry.kind,
                    path=entry.path,
                    reason="request file removed; removing a file cancels nothing at Adobe",
                    identity_count=entry.identity_count,
                    remote_ids=entry.remote_ids,
                    sandbox=recorded_sandbox(entry.kind, entry.sandbox, sandbox),
                )
            )
    by_name = {r.name: r for r in requests}
    actions = [_retry_reason(a, by_name.get(a.name), ledger) for a in actions]
    order = {t: i for i, t in enumerate(ActionType)}
    actions.sort(key=lambda a: (order[a.type], a.name))
    return Plan(tuple(actions), online=remote is not None, notes=remote.notes if remote else ())


def _retry_reason(action: Action, request: Request | None, ledger: Ledger) -> Action:
    """A create that submits a failed request again says which (``metadata.retryOf``)."""
    target = request.metadata.get("retryOf") if request is not None else None
    if action.type is not ActionType.CREATE or not isinstance(target, str):
        return action
    entry = ledger.get(target)
    status = entry.status.value if entry is not None and entry.status else "unknown"
    retry = f"{RETRY}{target} (its last status at Adobe: {status})"
    return replace(action, reason=f"{action.reason}; {retry}" if action.reason else retry)


def inputs_digest(
    requests: Iterable[Request], ledger: Ledger, remote: RemoteState | None, salt: bytes
) -> str:
    """A digest of everything a plan depends on, so a stale plan file can be refused.

    Requests enter through their fingerprints under the plan's salt, keyed with the
    fingerprint key where their identities are stored encrypted, so that the salt and
    digest in the plan file test no guessed identity (:meth:`Fingerprint.for_plan`), or,
    not decrypted (an offline plan without the key), through a salted hash of their
    values as stored; remote objects through ids and mutable fields only, since
    statuses move on their own.
    """
    h = hashlib.sha256(salt)
    for r in sorted(requests, key=lambda r: r.name):
        fingerprint = Fingerprint.for_plan(r, salt)
        h.update(json.dumps([r.name, fingerprint, r.display_name, r.description]).encode())
    for e in ledger:
        h.update(
            json.dumps(
                [
                    e.name,
                    e.fingerprint.digest,
                    e.remote_ids,
                    e.display_name,
                    e.description,
                    dict(e.fields),
                ],
                sort_keys=True,
            ).encode()
        )
    for name in sorted(ledger.intents):
        intent = ledger.intents[name]
        h.update(json.dumps([name, intent.attempts, intent.last_sent_at.isoformat()]).encode())
    if remote is not None:
        for name in sorted(remote.by_name):
            for o in remote.by_name[name]:
                h.update(_remote_digest(name, o))
        for rid in sorted(remote.by_id):
            o = remote.by_id[rid]
            h.update(_remote_digest(rid, o))
    return h.hexdigest()


def _remote_digest(key: str, o: RemoteObject) -> bytes:
    return json.dumps(
        [key, o.remote_id, o.display_name, o.description, dict(o.fields)], sort_keys=True
    ).encode()
