"""The planner: declared requests × ledger × remote state → actions.

A pure function of its inputs, so a saved plan can be checked for staleness
by planning again and comparing. Actions:

* ``create``   declared, not in the ledger, not found at Adobe by its tag;
* ``adopt``    declared, not in the ledger, but found at Adobe by its tag (a
               lost response or a lost ledger): recorded, never created again;
* ``update``   applied, but ``displayName``/``description`` differ from Adobe
               (or, offline, from what was last applied);
* ``noop``     applied and unchanged;
* ``conflict`` applied, but an immutable field changed since: needs a new request;
* ``orphan``   in the ledger, file gone: nothing can be undone remotely.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model import Kind, Request
from reconciler.reconcile.ledger import Entry, Ledger
from reconciler.reconcile.tagging import tagged, untag


class ActionType(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    NOOP = "noop"
    CONFLICT = "conflict"
    ORPHAN = "orphan"


CHANGES = (ActionType.CREATE, ActionType.ADOPT, ActionType.UPDATE)
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
class RemoteObject:
    """What the planner needs to know of one remote object: ids and mutable fields."""

    remote_id: str
    display_name: str = ""
    description: str = ""  # as stored at Adobe, tag included
    created_at: str = ""
    user_key: str = ""
    action: str = ""
    product: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class RemoteState:
    """Remote objects found by tag (by request name) and by ledger id."""

    by_name: Mapping[str, tuple[RemoteObject, ...]] = field(default_factory=dict)
    by_id: Mapping[str, RemoteObject] = field(default_factory=dict)
    calls: int = 0


@dataclass(frozen=True)
class Action:
    """One step of a plan. Holds counts and namespaces, never identity values."""

    type: ActionType
    name: str
    kind: Kind
    path: str
    reason: str = ""
    identity_count: int = 0
    namespaces: tuple[str, ...] = ()
    target: str = ""
    changes: tuple[Change, ...] = ()
    remote_ids: tuple[str, ...] = ()

    @property
    def is_change(self) -> bool:
        return self.type in CHANGES

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
        }


@dataclass(frozen=True)
class Plan:
    """The ordered actions and whether they were planned against Adobe or offline."""

    actions: tuple[Action, ...]
    online: bool

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


def _target(request: Request) -> str:
    spec = request.spec
    if request.kind is Kind.RECORD_DELETE:
        return f"dataset {spec['datasetId']}"
    if request.kind is Kind.PRIVACY_JOB:
        return f"{spec['regulation']}: {', '.join(spec['include'])}"
    return "opt-out of sale" if spec.get("optOutOfSale") else "opt-in to sale"


def _mutable_changes(request: Request, display_name: str, description: str) -> tuple[Change, ...]:
    changes = []
    if display_name != request.display_name:
        changes.append(Change("displayName", display_name, request.display_name))
    if description != tagged(request.description, request.name):
        before, name = untag(description)
        if name == request.name:
            changes.append(Change("description", before, request.description))
        else:  # the tag is missing (an imported work order, a hand edit): show it restored
            changes.append(
                Change("description", description, tagged(request.description, request.name))
            )
    return tuple(changes)


def _plan_declared(request: Request, entry: Entry | None, remote: RemoteState | None) -> Action:
    namespaces = tuple(sorted({i.namespace for i in request.identities()}))
    count = request.identity_count()

    def make(type_: ActionType, **kw: Any) -> Action:
        return Action(
            type_,
            request.name,
            request.kind,
            request.path,
            identity_count=count,
            namespaces=namespaces,
            target=_target(request),
            **kw,
        )

    if entry is None:
        found = remote.by_name.get(request.name, ()) if remote is not None else ()
        if not found and request.metadata.get("imported"):
            return make(
                ActionType.CONFLICT,
                reason="imported request has no ledger entry and no tagged work order: it "
                "cannot be created (its identities are unknown); run `reconciler import` again",
            )
        if not found:
            return make(ActionType.CREATE, reason="not yet at Adobe")
        ids = tuple(o.remote_id for o in found)
        changes: tuple[Change, ...] = ()
        if request.kind is Kind.RECORD_DELETE:
            first = min(found, key=lambda o: (o.created_at, o.remote_id))
            ids = (first.remote_id,)
            changes = _mutable_changes(request, first.display_name, first.description)
        why = "found at Adobe by its tag but missing from the ledger: recorded, not re-created"
        if len(found) > 1 and request.kind is Kind.RECORD_DELETE:
            why += f" ({len(found)} tagged work orders exist; the oldest is recorded)"
        return make(ActionType.ADOPT, reason=why, changes=changes, remote_ids=ids)
    note = ""
    if request.locked:  # offline, without the key
        changed = entry.kind is not request.kind or (
            entry.identity_count > 0 and entry.identity_count != count
        )
        note = UNCHECKED
    else:
        changed = entry.kind is not request.kind or not entry.fingerprint.matches(request)
    if changed:
        what = "kind" if entry.kind is not request.kind else "identities or other immutable fields"
        return make(
            ActionType.CONFLICT,
            reason=f"{what} changed after it was applied; Adobe cannot change them: restore "
            "the file and declare a new request with a new name",
            remote_ids=entry.remote_ids,
        )
    changes = ()
    if request.kind is Kind.RECORD_DELETE:
        current = remote.by_id.get(entry.workorder_id or "") if remote is not None else None
        if current is not None:
            changes = _mutable_changes(request, current.display_name, current.description)
        else:  # offline: compare with what was last applied
            changes = _mutable_changes(
                request, entry.display_name, tagged(entry.description, request.name)
            )
    if changes:
        return make(
            ActionType.UPDATE,
            reason=(
                "displayName/description differ from Adobe"
                if remote is not None
                else "displayName/description differ from what was applied"
            )
            + (f"; {note}" if note else ""),
            changes=changes,
            remote_ids=entry.remote_ids,
        )
    return make(ActionType.NOOP, reason=note, remote_ids=entry.remote_ids)


def plan_changes(requests: Sequence[Request], ledger: Ledger, remote: RemoteState | None) -> Plan:
    """Compare declared requests with the ledger and (when given) Adobe's state.

    Online (``remote`` given), every request must be decrypted: what is planned
    against Adobe is applied, and applying needs the values."""
    if remote is not None:
        for request in requests:
            request.require_plaintext()
    actions = [_plan_declared(r, ledger.get(r.name), remote) for r in requests]
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
                )
            )
    order = {t: i for i, t in enumerate(ActionType)}
    actions.sort(key=lambda a: (order[a.type], a.name))
    return Plan(tuple(actions), online=remote is not None)


def inputs_digest(
    requests: Iterable[Request], ledger: Ledger, remote: RemoteState | None, salt: bytes
) -> str:
    """A digest of everything a plan depends on, so a stale plan file can be refused.

    Requests enter through their salted fingerprints (no identity in the plan file), or,
    encrypted and not decrypted (an offline plan without the key), through a salted hash
    of their values as stored; remote objects through ids and mutable fields only,
    since statuses move on their own.
    """
    h = hashlib.sha256(salt)
    for r in sorted(requests, key=lambda r: r.name):
        fingerprint = r.stored_fingerprint(salt) if r.locked else r.fingerprint(salt)
        h.update(json.dumps([r.name, fingerprint, r.display_name, r.description]).encode())
    for e in ledger:
        h.update(
            json.dumps(
                [e.name, e.fingerprint.digest, e.remote_ids, e.display_name, e.description]
            ).encode()
        )
    if remote is not None:
        for name in sorted(remote.by_name):
            for o in remote.by_name[name]:
                h.update(json.dumps([name, o.remote_id, o.display_name, o.description]).encode())
        for rid in sorted(remote.by_id):
            o = remote.by_id[rid]
            h.update(json.dumps([rid, o.display_name, o.description]).encode())
    return h.hexdigest()
