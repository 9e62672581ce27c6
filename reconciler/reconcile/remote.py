"""Reading Adobe's side for the planner, and building the client from settings.

Each kind reads its own objects in as few calls as its API allows (see
``read`` in :mod:`reconciler.kinds`): work orders and expirations in one
tagged listing plus a ``GET`` per ledger entry the listing did not show,
privacy jobs per regulation and only while a request is not in the ledger
yet, consent not at all (Adobe keeps nothing to read).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.kinds import Kind
from reconciler.kinds.base import RemoteObject
from reconciler.model import Request
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.planner import RemoteState
from reconciler.reconcile.tagging import UNSCOPED, Scope
from reconciler.settings import Settings


def adobe_config(settings: Settings, env: Mapping[str, str]) -> AdobeConfig:
    """The client's configuration: secrets from ``env``, the rest from the settings."""
    a, c = settings.adobe, settings.client
    overrides: dict[str, object] = {
        "ims_url": a.ims_url,
        "platform_url": a.platform_url,
        "max_concurrency": c.max_concurrency,
        "requests_per_second": c.requests_per_second,
        "timeout": c.timeout_seconds,
        "max_retries": c.max_retries,
    }
    if a.org_id:
        overrides["org_id"] = a.org_id
    if a.sandbox_name:
        overrides["sandbox_name"] = a.sandbox_name
    if a.scopes:
        overrides["scopes"] = ",".join(a.scopes)
    return AdobeConfig.from_env(env, **overrides)


def fetch_remote_state(
    client: AdobeClient,
    requests: Sequence[Request],
    ledger: Ledger,
    today: date,
    scope: Scope = UNSCOPED,
) -> RemoteState:
    """What the planner needs from Adobe, in as few calls as the APIs allow."""
    by_name: dict[str, list[RemoteObject]] = defaultdict(list)
    by_id: dict[str, RemoteObject] = {}
    notes: list[str] = []
    for kind in Kind:
        mine = [r for r in requests if r.kind is kind]
        applied = [e for e in ledger if e.kind is kind]
        unrecorded = [r for r in mine if ledger.get(r.name) is None]
        listing = kind.read(client, unrecorded, applied, today, scope)
        for name, objects in listing.by_name.items():
            by_name[name].extend(objects)
        by_id.update(listing.by_id)
        notes.extend(listing.notes)
        # A create sent with no outcome recorded and not found by the listing: look
        # again without the search, over the days since it was first sent.
        for request in unrecorded:
            intent = ledger.intent(request.name)
            if intent is None or by_name.get(request.name) or not kind.findable:
                continue
            since = intent.first_sent_at.date() - timedelta(days=1)
            for obj in kind.find_since(client, request, since, today, scope):
                by_name[request.name].append(obj)
                by_id.setdefault(obj.remote_id, obj)
    return RemoteState(
        by_name={k: tuple(v) for k, v in by_name.items()},
        by_id=by_id,
        notes=tuple(notes),
    )
