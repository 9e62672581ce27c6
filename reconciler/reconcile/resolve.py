"""Which of two ledger entries of one request Adobe confirms (a ledger rebase conflict).

Two clones recorded the same request with different remote ids: one of them
sent it after the other's entry was committed but before it was pulled, or one
adopted what the other created. Pulling conflicts on ``ledger/NAME.json``; the
rebase (:mod:`reconciler.git.rebase`) keeps either side when both name the same
objects, and otherwise asks :func:`adobe_resolver`: the side whose objects
exist at Adobe is kept. When both do (a duplicate already at Adobe) or neither
does, or Adobe cannot be asked, it says so and the rebase is undone for a person
to decide: nothing is guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from reconciler.adobe import AdobeClient, AdobeError
from reconciler.git.rebase import Resolver
from reconciler.reconcile.ledger import SCHEMA, Entry
from reconciler.reconcile.remote import adobe_config
from reconciler.schemas import check
from reconciler.settings import Settings

log = logging.getLogger("reconciler.apply")


def adobe_resolver(settings: Settings, env: Mapping[str, str]) -> Resolver:
    """A resolver that keeps the entry whose objects Adobe has (see the module doc)."""

    def resolve(
        name: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        sides = {"this clone's": ours, "the remote's": theirs}
        try:
            with AdobeClient(adobe_config(settings, env)) as client:
                found = {side: _at_adobe(client, doc) for side, doc in sides.items()}
        except AdobeError as e:
            log.warning("%s: the ledger conflict could not be checked at Adobe: %s", name, e)
            return None
        kept = [side for side, there in found.items() if there]
        if len(kept) == 1:
            log.warning(
                "%s: two clones recorded it with different ids; Adobe has only %s, kept",
                name,
                kept[0] + " entry's",
            )
            return sides[kept[0]]
        log.warning(
            "%s: two clones recorded it with different ids and Adobe has %s of them: a "
            "person must decide which entry to keep",
            name,
            "both" if kept else "neither",
        )
        return None

    return resolve


def _at_adobe(client: AdobeClient, doc: Mapping[str, Any]) -> bool:
    """Whether the objects an entry names exist at Adobe (False for an invalid entry, or
    a kind Adobe keeps nothing of)."""
    if check(SCHEMA, doc):
        return False
    entry = Entry.from_json(doc)
    status = entry.kind.refresh(client, entry)
    if status is None:
        return False
    if not entry.remote_id:  # jobs: each one's status by id
        return any(state != "not-found" for _, state in status.products)
    return status.value != "not-found"
