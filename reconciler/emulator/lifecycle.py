"""Status progression, computed from emulator time at read time (nothing runs in the background).

Work orders: ``received → validated → submitted → ingested → completed``, or
``failed`` at validation when the dataset is unknown. ``productStatusDetails``
appear once submitted. Privacy jobs: ``submitted → processing → complete``.
Dataset expirations: ``pending → executing`` at the expiry, ``→ completed`` a configured
time later, or ``cancelled`` (stored: a cancellation is the caller's, not the clock's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.emulator.clock import iso
from reconciler.emulator.config import ExpirationSteps, JobSteps, WorkorderSteps
from reconciler.emulator.job_store import JobRecord
from reconciler.emulator.store import WorkOrderRecord
from reconciler.emulator.ttl_store import ExpirationRecord

WORKORDER_STATUSES: tuple[str, ...] = (
    "received",
    "validated",
    "submitted",
    "ingested",
    "completed",
    "failed",
)
JOB_STATUSES: tuple[str, ...] = ("submitted", "processing", "complete", "error")
# The spec's enum (parameters.ttlStatus, DatasetExpirationConfig.status).
EXPIRATION_STATUSES: tuple[str, ...] = ("pending", "executing", "completed", "cancelled")
# Statuses in which an expiration still stands: one per dataset, and what the quota counts.
ACTIVE_EXPIRATION_STATUSES = frozenset({"pending", "executing"})

# Product names as Adobe shows them in productStatusDetails (seed and spec examples).
PRODUCT_NAMES: dict[str, str] = {
    "datalake": "Data Management",
    "identity": "Identity Service",
    "profile": "Profile Service",
    "ajo": "Journey Orchestrator",
}
# Services that finish by the time a work order is ``ingested``; the rest still wait.
_EARLY_SERVICES = frozenset({"datalake", "identity"})


@dataclass(frozen=True)
class WorkOrderState:
    status: str
    changed_at: float
    products: tuple[dict[str, Any], ...] | None


def workorder_state(record: WorkOrderRecord, now: float, steps: WorkorderSteps) -> WorkOrderState:
    """The status of ``record`` at emulator time ``now``."""
    elapsed = now - record.created_at
    start = record.created_at
    if not record.dataset_known and elapsed >= steps.validated:
        return WorkOrderState("failed", start + steps.validated, None)
    timeline = (
        ("completed", steps.completed),
        ("ingested", steps.ingested),
        ("submitted", steps.submitted),
        ("validated", steps.validated),
    )
    for status, offset in timeline:
        if elapsed >= offset:
            return WorkOrderState(status, start + offset, _products(record, status, steps))
    return WorkOrderState("received", start, None)


def _products(
    record: WorkOrderRecord, status: str, steps: WorkorderSteps
) -> tuple[dict[str, Any], ...] | None:
    if status not in ("submitted", "ingested", "completed"):
        return None
    details = []
    for service in record.target_services:
        done_at: float | None = None
        if status == "completed":
            done_at = steps.ingested if service in _EARLY_SERVICES else steps.completed
        elif status == "ingested" and service in _EARLY_SERVICES:
            done_at = steps.ingested
        at = record.created_at + (done_at if done_at is not None else steps.submitted)
        details.append(
            {
                "productName": PRODUCT_NAMES.get(service, service),
                "productStatus": "success" if done_at is not None else "waiting",
                "createdAt": iso(at),
            }
        )
    return tuple(details)


@dataclass(frozen=True)
class JobState:
    status: str
    changed_at: float


def job_state(record: JobRecord, now: float, steps: JobSteps) -> JobState:
    """The status of a privacy job at emulator time ``now``."""
    elapsed = now - record.created_at
    if elapsed >= steps.complete:
        return JobState("complete", record.created_at + steps.complete)
    if elapsed >= steps.processing:
        return JobState("processing", record.created_at + steps.processing)
    return JobState("submitted", record.created_at)


def product_responses(record: JobRecord, state: JobState) -> list[dict[str, Any]]:
    """``productResponses`` of a job: empty until the product starts processing."""
    if state.status == "submitted":
        return []
    if state.status == "complete":
        # Completion code 6000-200 is "success" in Privacy Service's response codes.
        response = {
            "status": "complete",
            "message": "Success",
            "responseMsgCode": "6000-200",
            "responseMsgDetail": "Request completed successfully",
        }
    else:
        response = {"status": "processing", "message": "Processing"}
    return [
        {
            "product": record.product,
            "retryCount": 0,
            "processedDate": iso(state.changed_at),
            "productStatusResponse": response,
        }
    ]


@dataclass(frozen=True)
class ExpirationState:
    status: str
    changed_at: float


def expiration_state(
    record: ExpirationRecord, now: float, steps: ExpirationSteps
) -> ExpirationState:
    """The status of a dataset expiration at emulator time ``now``.

    ``ExpirationTable.active_count`` counts in SQL what this calls pending or executing:
    a change here is a change there.
    """
    if record.cancelled_at is not None:
        return ExpirationState("cancelled", record.cancelled_at)
    if now >= record.expiry + steps.completed:
        return ExpirationState("completed", record.expiry + steps.completed)
    if now >= record.expiry:
        return ExpirationState("executing", record.expiry)
    return ExpirationState("pending", record.edited_at or record.created_at)
