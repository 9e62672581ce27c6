"""Refreshing the remote status of applied requests into the ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from reconciler.adobe import AdobeClient
from reconciler.kinds.base import recorded_sandbox
from reconciler.reconcile.ledger import Entry, Ledger, StatusRecord


def sandbox_of(entry: Entry, default: str | None) -> str | None:
    """The sandbox an entry's status is read in: the one it records, or ``default`` (the
    settings' ``adobe.sandboxName``) for one written before sandboxes were recorded; None
    for organisation-wide kinds."""
    return recorded_sandbox(entry.kind, entry.sandbox, default)


def is_final(entry: Entry) -> bool:
    """Whether the entry's last observed status can no longer change."""
    return entry.kind.is_final(entry.status)


@dataclass(frozen=True)
class Refreshed:
    entry: Entry
    changed: bool
    error: str | None = None

    @property
    def final(self) -> bool:
        return is_final(self.entry)


def refresh_entry(client: AdobeClient, entry: Entry) -> StatusRecord | None:
    """The current remote status of one entry (read in its sandbox, see
    :func:`sandbox_of`); None for kinds Adobe keeps no status for."""
    return entry.kind.refresh(client, entry)


def refresh(
    client: AdobeClient,
    ledger: Ledger,
    entries: Iterable[Entry],
    on_done: Callable[[], None] | None = None,
) -> list[Refreshed]:
    """Refresh ``entries`` with bounded concurrency; write the ones whose status changed.

    ``on_done`` is called as each entry's answer arrives (a progress bar), from the
    thread that fetched it."""
    todo = list(entries)

    def one(entry: Entry) -> StatusRecord | None:
        try:
            return refresh_entry(client, entry)
        finally:
            if on_done is not None:
                on_done()

    results = client.map_concurrently(one, todo)
    out = []
    for entry, result in zip(todo, results, strict=True):
        if not result.success:
            out.append(Refreshed(entry, False, str(result.error)))
            continue
        status = result.value
        if status is None:
            out.append(Refreshed(entry, False))
            continue
        old = entry.status
        changed = old is None or (old.value, old.products) != (status.value, status.products)
        if changed:
            entry = replace(entry, status=status)
            ledger.put(entry)
        out.append(Refreshed(entry, changed))
    return out
