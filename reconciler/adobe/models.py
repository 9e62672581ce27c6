"""What we read back from Adobe, as small immutable records.

Each ``from_api`` checks every field it keeps and raises ``InvalidResponseError`` on a
wrong type or a malformed id. Identities the server echoes back (a privacy job's
``userIDs``) are deliberately not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from reconciler.adobe.errors import InvalidResponseError
from reconciler.adobe.fields import Fields
from reconciler.adobe.sanitize import clean_text


class _Status(StrEnum):
    """A status as Adobe spells it; anything else it says is ``unknown`` (every subclass
    has that member)."""

    @classmethod
    def parse(cls, value: str) -> Self:
        try:
            return cls(value)
        except ValueError:
            return cls("unknown")


class WorkOrderStatus(_Status):
    RECEIVED = "received"
    VALIDATED = "validated"
    SUBMITTED = "submitted"
    INGESTED = "ingested"
    COMPLETED = "completed"
    FAILED = "failed"
    IN_PROGRESS = "in-progress"  # seen in some doc examples
    UNKNOWN = "unknown"  # anything else the server says

    @property
    def is_final(self) -> bool:
        return self in (WorkOrderStatus.COMPLETED, WorkOrderStatus.FAILED)


class PrivacyJobStatus(_Status):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str | None) -> Self:
        return super().parse((value or "").lower())  # Privacy Service's case varies

    @property
    def is_final(self) -> bool:
        return self in (PrivacyJobStatus.COMPLETE, PrivacyJobStatus.ERROR)


@dataclass(frozen=True)
class ProductStatus:
    """One downstream service's progress on a work order (``productStatusDetails``)."""

    product_name: str
    product_status: str
    created_at: str | None

    @classmethod
    def from_api(cls, f: Fields) -> ProductStatus:
        return cls(
            product_name=f.text("productName"),
            product_status=f.text("productStatus"),
            created_at=f.opt_text("createdAt"),
        )


@dataclass(frozen=True)
class WorkOrder:
    """A Data Hygiene record delete work order. Adobe never returns its identities."""

    workorder_id: str
    status: str
    dataset_id: str | None = None
    dataset_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    action: str | None = None
    org_id: str | None = None
    bundle_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    operation_count: int | None = None
    target_services: tuple[str, ...] = ()
    product_status_details: tuple[ProductStatus, ...] = ()

    @property
    def state(self) -> WorkOrderStatus:
        return WorkOrderStatus.parse(self.status)

    @classmethod
    def from_api(cls, data: object, where: str = "work order") -> WorkOrder:
        f = Fields(data, where)
        return cls(
            workorder_id=f.ident("workorderId"),
            status=f.text("status"),
            dataset_id=f.opt_text("datasetId"),
            dataset_name=f.opt_text("datasetName"),
            display_name=f.opt_text("displayName"),
            description=f.opt_text("description"),
            action=f.opt_text("action"),
            org_id=f.opt_text("orgId"),
            bundle_id=f.opt_text("bundleId"),
            created_at=f.opt_text("createdAt"),
            updated_at=f.opt_text("updatedAt"),
            created_by=f.opt_text("createdBy"),
            operation_count=f.opt_count("operationCount"),
            target_services=f.texts("targetServices"),
            product_status_details=tuple(
                ProductStatus.from_api(p) for p in f.objects("productStatusDetails")
            ),
        )


@dataclass(frozen=True)
class WorkOrderPage:
    """One page of ``GET /workorder``."""

    results: tuple[WorkOrder, ...]
    total: int | None
    count: int | None

    @classmethod
    def from_api(cls, data: object, where: str = "work order list") -> WorkOrderPage:
        f = Fields(data, where)
        results = tuple(
            WorkOrder.from_api(item.data, item.where)
            for item in f.objects("results", required=True)
        )
        return cls(results=results, total=f.opt_count("total"), count=f.opt_count("count"))


@dataclass(frozen=True)
class Quota:
    """One Data Hygiene quota (``GET /quota``)."""

    name: str
    consumed: int
    quota: int
    description: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.consumed)

    @classmethod
    def from_api(cls, f: Fields) -> Quota:
        return cls(
            name=f.text("name"),
            consumed=f.count("consumed"),
            quota=f.count("quota"),
            description=f.opt_text("description"),
        )


@dataclass(frozen=True)
class CreatedJob:
    """One job made by ``POST /jobs``: one per user, action and product."""

    job_id: str
    user_key: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class PrivacyJobsCreated:
    """The answer to ``POST /jobs``."""

    request_id: str | None
    total_records: int | None
    jobs: tuple[CreatedJob, ...]

    @classmethod
    def from_api(cls, data: object, where: str = "privacy job creation") -> PrivacyJobsCreated:
        f = Fields(data, where)
        # The spec's schema calls the list ``jobDetails``; its example and the docs say ``jobs``.
        name = "jobs" if f.has("jobs") else "jobDetails"
        jobs = []
        for item in f.objects(name, required=True):
            user = item.obj("customer").obj("user") if item.has("customer") else None
            jobs.append(
                CreatedJob(
                    job_id=item.ident("jobId"),
                    user_key=user.opt_text("key") if user else None,
                    actions=user.texts("action") if user else (),
                )
            )
        return cls(
            request_id=f.opt_ident("requestId"),
            total_records=f.opt_count("totalRecords"),
            jobs=tuple(jobs),
        )


@dataclass(frozen=True)
class ProductResponse:
    """One product's answer on a privacy job (``productResponses``)."""

    product: str | None
    status: str | None
    message: str | None
    response_msg_code: str | None
    retry_count: int | None
    processed_date: str | None

    @classmethod
    def from_api(cls, f: Fields) -> ProductResponse:
        status = f.obj("productStatusResponse") if f.has("productStatusResponse") else None
        message = status.opt_text("message") if status else None
        return cls(
            product=f.opt_text("product"),
            status=status.opt_text("status") if status else None,
            message=clean_text(message) if message is not None else None,
            response_msg_code=status.opt_text("responseMsgCode") if status else None,
            retry_count=f.opt_count("retryCount"),
            processed_date=f.opt_text("processedDate"),
        )


@dataclass(frozen=True)
class PrivacyJob:
    """A Privacy Service job, from ``GET /jobs/{id}`` or a ``GET /jobs`` list."""

    job_id: str
    status: str | None = None
    request_id: str | None = None
    user_key: str | None = None
    action: str | None = None
    regulation: str | None = None
    submitted_by: str | None = None
    created_date: str | None = None
    last_modified_date: str | None = None
    download_url: str | None = None
    product_responses: tuple[ProductResponse, ...] = ()

    @property
    def state(self) -> PrivacyJobStatus:
        return PrivacyJobStatus.parse(self.status)

    @classmethod
    def from_api(cls, data: object, where: str = "privacy job") -> PrivacyJob:
        f = Fields(data, where)
        # The docs spell it ``downloadURL``, the spec ``downloadUrl``.
        url_field = "downloadURL" if f.has("downloadURL") else "downloadUrl"
        return cls(
            job_id=f.ident("jobId"),
            status=f.opt_text("status"),
            request_id=f.opt_text("requestId"),
            user_key=f.opt_text("userKey"),
            action=f.opt_text("action"),
            regulation=f.opt_text("regulation"),
            submitted_by=f.opt_text("submittedBy"),
            created_date=f.opt_text("createdDate"),
            last_modified_date=f.opt_text("lastModifiedDate"),
            download_url=f.opt_text(url_field),
            product_responses=tuple(
                ProductResponse.from_api(p) for p in f.objects("productResponses")
            ),
        )


@dataclass(frozen=True)
class PrivacyJobPage:
    """One page of ``GET /jobs``."""

    jobs: tuple[PrivacyJob, ...]
    total_records: int | None

    @classmethod
    def from_api(cls, data: object, where: str = "privacy job list") -> PrivacyJobPage:
        f = Fields(data, where)
        jobs = tuple(PrivacyJob.from_api(item.data, item.where) for item in f.objects("jobDetails"))
        return cls(jobs=jobs, total_records=f.opt_count("totalRecords"))


class DatasetExpirationStatus(_Status):
    """A dataset expiration's status (the spec's enum; values are case-sensitive there)."""

    PENDING = "pending"
    EXECUTING = "executing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # anything else the server says; the text is kept beside it

    @property
    def is_final(self) -> bool:
        return self in (DatasetExpirationStatus.COMPLETED, DatasetExpirationStatus.CANCELLED)


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime; a date is its midnight and a
    time without a zone is UTC, as the spec says of ``expiry``. None when it is neither."""
    try:
        moment = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class DatasetExpiration:
    """A Data Hygiene dataset expiration (``/ttl``): the dataset is deleted at ``expiry``.

    ``expiry`` and ``updated_at`` are as Adobe wrote them (``expiry`` checked to be an ISO
    8601 time; ``expires_at`` is that instant). ``status`` is the parsed status,
    ``status_text`` what the server said (they differ when ``status`` is ``UNKNOWN``).
    """

    ttl_id: str
    dataset_id: str
    status: DatasetExpirationStatus
    status_text: str
    expiry: str
    dataset_name: str | None = None
    sandbox_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    ims_org: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None

    @property
    def expires_at(self) -> datetime:
        """``expiry`` as an aware UTC datetime."""
        moment = parse_instant(self.expiry)
        assert moment is not None  # from_api checked it
        return moment

    @classmethod
    def from_api(cls, data: object, where: str = "dataset expiration") -> DatasetExpiration:
        f = Fields(data, where)
        status = f.text("status")
        expiry = f.text("expiry")
        if parse_instant(expiry) is None:
            raise InvalidResponseError(f"{where}: field 'expiry' is not an ISO 8601 time")
        return cls(
            ttl_id=f.ident("ttlId"),
            dataset_id=f.ident("datasetId"),
            status=DatasetExpirationStatus.parse(status),
            status_text=status,
            expiry=expiry,
            dataset_name=f.opt_text("datasetName"),
            sandbox_name=f.opt_text("sandboxName"),
            display_name=f.opt_text("displayName"),
            description=f.opt_text("description"),
            ims_org=f.opt_text("imsOrg"),
            updated_at=f.opt_text("updatedAt"),
            updated_by=f.opt_text("updatedBy"),
        )


@dataclass(frozen=True)
class DatasetExpirationPage:
    """One page of ``GET /ttl``; ``total_count`` is required (paging depends on it)."""

    results: tuple[DatasetExpiration, ...]
    total_count: int
    total_pages: int | None
    current_page: int | None

    @classmethod
    def from_api(
        cls, data: object, where: str = "dataset expiration list"
    ) -> DatasetExpirationPage:
        f = Fields(data, where)
        results = tuple(
            DatasetExpiration.from_api(item.data, item.where)
            for item in f.objects("results", required=True)
        )
        return cls(
            results=results,
            total_count=f.count("total_count"),
            total_pages=f.opt_count("total_pages"),
            current_page=f.opt_count("current_page"),
        )
