"""Client for Adobe Experience Platform's Data Hygiene and Privacy Service APIs.

Usage::

    config = AdobeConfig.from_env(os.environ)
    with AdobeClient(config) as client:
        order = client.hygiene.create_work_order(
            dataset_id="ALL",
            display_name="Example",
            description="jira-12345",
            namespaces_identities={"email": ["someone@example.com"]},
        )
        expiration = client.ttl.create_expiration(
            "c48b51623ec641a2949d339bad69cb15", date(2031, 1, 1), "Example retention"
        )

See ``errors`` for the exception tree and ``retry`` for the retry policy.
"""

from __future__ import annotations

from reconciler.adobe.client import AdobeClient
from reconciler.adobe.config import (
    DEFAULT_IMS_URL,
    DEFAULT_PLATFORM_URL,
    DEFAULT_SCOPES,
    AdobeConfig,
)
from reconciler.adobe.errors import (
    AdobeError,
    ApiError,
    AuthenticationError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
)
from reconciler.adobe.hygiene import Identity
from reconciler.adobe.limits import CallResult
from reconciler.adobe.models import (
    CreatedJob,
    DatasetExpiration,
    DatasetExpirationStatus,
    PrivacyJob,
    PrivacyJobsCreated,
    PrivacyJobStatus,
    ProductResponse,
    ProductStatus,
    Quota,
    WorkOrder,
    WorkOrderStatus,
)
from reconciler.adobe.privacy import PrivacyUser, UserId
from reconciler.adobe.retry import POLICY, FailureKind, RetryEvent, Verdict
from reconciler.adobe.ttl import DatasetExpirationApi

__all__ = [
    "DEFAULT_IMS_URL",
    "DEFAULT_PLATFORM_URL",
    "DEFAULT_SCOPES",
    "POLICY",
    "AdobeClient",
    "AdobeConfig",
    "AdobeError",
    "ApiError",
    "AuthenticationError",
    "CallResult",
    "CreatedJob",
    "DatasetExpiration",
    "DatasetExpirationApi",
    "DatasetExpirationStatus",
    "FailureKind",
    "Identity",
    "InvalidArgumentError",
    "InvalidResponseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PrivacyJob",
    "PrivacyJobStatus",
    "PrivacyJobsCreated",
    "PrivacyUser",
    "ProductResponse",
    "ProductStatus",
    "Quota",
    "RetryEvent",
    "ServerError",
    "ThrottledError",
    "TransportError",
    "UserId",
    "Verdict",
    "WorkOrder",
    "WorkOrderStatus",
]
