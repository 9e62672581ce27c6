"""Refreshing the remote status of applied requests into the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from reconciler.adobe import AdobeClient, NotFoundError, PrivacyJobStatus, WorkOrderStatus
from reconciler.model import Kind
from reconciler.reconcile.ledger import Entry, Ledger, StatusRecord, utc_now

FINAL = {s.value for s in WorkOrderStatus if s.is_final} | {
    s.value for s in PrivacyJobStatus if s.is_final
}


def is_final(entry: Entry) -> bool:
    """Whether the entry's last observed status can no longer change."""
    return entry.kind is Kind.CONSENT_OPT_OUT or (
        entry.status is not None and entry.status.value in FINAL
    )


@dataclass(frozen=True)
class Refreshed:
    entry: Entry
    changed: bool
    error: str | None = None

    @property
    def final(self) -> bool:
        return is_final(self.entry)


def _job_summary(statuses: list[str]) -> str:
    if any(s == "error" for s in statuses):
        return "error"
    if statuses and all(s == "complete" for s in statuses):
        return "complete"
    if any(s == "processing" for s in statuses):
        return "processing"
    return "submitted" if statuses else "unknown"


def refresh_entry(client: AdobeClient, entry: Entry) -> StatusRecord | None:
    """The current remote status of one entry; None for kinds Adobe keeps no status for."""
    now = utc_now()
    if entry.workorder_id:
        try:
            order = client.hygiene.get_work_order(entry.workorder_id)
        except NotFoundError:
            return StatusRecord("not-found", now)
        products = tuple((p.product_name, p.product_status) for p in order.product_status_details)
        return StatusRecord(order.status, now, products)
    if entry.jobs:
        statuses = []
        per_job = []
        for job in entry.jobs:
            try:
                state = client.privacy.get_privacy_job(job.job_id).state.value
            except NotFoundError:
                state = "not-found"  # Adobe keeps job data 30 days after completion
            statuses.append(state)
            per_job.append((job.job_id, state))
        return StatusRecord(_job_summary(statuses), now, tuple(per_job))
    return None


def refresh(client: AdobeClient, ledger: Ledger, entries: Iterable[Entry]) -> list[Refreshed]:
    """Refresh ``entries`` with bounded concurrency; write the ones whose status changed."""
    todo = list(entries)
    results = client.map_concurrently(lambda e: refresh_entry(client, e), todo)
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
