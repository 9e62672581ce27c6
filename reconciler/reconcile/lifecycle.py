"""Where a request stands in its lifecycle: its deadline, and whether Adobe failed it.

The deadline is :mod:`reconciler.reconcile.deadlines`' for the kind's period; this
module fetches what it needs: the request's metadata (from the request loaded, or, for
``status`` and ``audit``, which read the ledger, from its file), and the day Adobe
finished it (from the ledger entry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.model import Request
from reconciler.reconcile.deadlines import AT_RISK_DAYS, Deadline, State, deadline
from reconciler.reconcile.ledger import Entry
from reconciler.yamlfile import load_document

# Statuses of a request Adobe did not carry out: each makes `status` exit 1.
FAILED_STATUSES = frozenset({"failed", "error", "not-found"})
# The deadline states `status --fail-on` can add to those.
# A deadline already missed is history (the audit shows it), not something to act on.
FAIL_ON = {
    "failed": frozenset[State](),
    "overdue": frozenset({State.OVERDUE}),
    "at-risk": frozenset({State.AT_RISK, State.OVERDUE}),
}


def request_deadline(
    request: Request, entry: Entry | None, today: date, margin: int = AT_RISK_DAYS
) -> Deadline | None:
    """The deadline of a declared request (None: no ``receivedAt``, or a kind that answers
    no data subject)."""
    return _deadline(request.kind, request.spec, request.metadata, entry, today, margin)


def _deadline(
    kind: Any,
    spec: Mapping[str, Any],
    metadata: Mapping[str, Any],
    entry: Entry | None,
    today: date,
    margin: int,
) -> Deadline | None:
    period = kind.deadline_period(spec)
    if period is None:
        return None
    done = kind.done_on(entry) if entry is not None else None
    return deadline(period, metadata, today, done, margin)


def entry_deadlines(
    root: Path, entries: Iterable[Entry], today: date, margin: int = AT_RISK_DAYS
) -> dict[str, Deadline]:
    """The deadlines of applied requests, read from each entry's request file (its
    ``metadata`` and ``spec`` only; a file gone or unreadable gives none: validation
    reports it)."""
    found: dict[str, Deadline] = {}
    for entry in entries:
        data = _read(root / entry.path, entry.path)
        if data is None:
            continue
        spec, metadata = data.get("spec"), data.get("metadata")
        if not isinstance(spec, Mapping) or not isinstance(metadata, Mapping):
            continue
        if metadata.get("name") != entry.name:  # another request now lives there
            continue
        due = _deadline(entry.kind, spec, metadata, entry, today, margin)
        if due is not None:
            found[entry.name] = due
    return found


def _read(path: Path, shown: str) -> Mapping[str, Any] | None:
    try:
        data = load_document(path, shown).data
    except (OSError, ReconcilerError):
        return None
    return data if isinstance(data, Mapping) else None


def retries(folder: Path, root: Path) -> dict[str, str]:
    """Which request submits each failed one again: ``metadata.retryOf`` of the request
    files under ``folder`` (metadata only; validation checks each link)."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
            continue
        data = _read(path, path.relative_to(root).as_posix())
        metadata = data.get("metadata") if data is not None else None
        if not isinstance(metadata, Mapping):
            continue
        target, name = metadata.get("retryOf"), metadata.get("name")
        if isinstance(target, str) and isinstance(name, str):
            found.setdefault(target, name)
    return found


def failed(entry: Entry) -> bool:
    """Whether Adobe reports the applied request failed, or no longer has it."""
    return entry.status is not None and entry.status.value in FAILED_STATUSES
