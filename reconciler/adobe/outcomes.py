"""Privacy Service's error and completion codes (``responseMsgCode``), with what to do.

Source, read 2026-12-02: the Privacy Service error codes reference,
https://experienceleague.adobe.com/en/docs/experience-platform/privacy/api/error-codes
(``help/privacy-service/api/error-codes.md`` in AdobeDocs/experience-platform.en). Adobe
calls the codes a stable public contract: a code is never repurposed, messages may
change, new codes may be added. An unknown code is shown as it is, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    meaning: str

    @property
    def failed(self) -> bool:
        """Whether the code reports a failure (the ``-400`` family)."""
        return self.code.endswith("-400")


SUCCESS = "6000-200"

CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code(
            "1000-400",
            "Formatting error",
            "one or more data values have formatting issues for the product: check the "
            "job details, correct the identities and submit the request again (retryOf)",
        ),
        Code(
            "1001-400",
            "Not authorized",
            "the organisation is not provisioned: contact your Adobe administrator",
        ),
        Code(
            "1010-400",
            "Missing permissions",
            "the credentials lack a required permission: ask your administrator for access",
        ),
        Code(
            "1020-400",
            "Upload and archive failure",
            "uploading and archiving the access data failed: submit the request again",
        ),
        Code(
            "1021-400",
            "Job failure",
            "one or more jobs of the request failed: review the failed jobs' details",
        ),
        Code(
            "1022-400",
            "Data access failure",
            "accessing the data failed: review the job details",
        ),
        Code(
            "1023-400",
            "Data access failure",
            "a dataset id could not be accessed or found: check the ids and submit again",
        ),
        Code(
            "1024-400",
            "Unexpected error",
            "Adobe reports an unexpected error: review the job details",
        ),
        Code(
            "1030-400",
            "Document rate limit exceeded",
            "the workload exceeded the document rate limit: submit again later, more slowly",
        ),
        Code(
            "1040-400",
            "Key encryption access failure",
            "the datastore is encrypted and access to the customer key was revoked: have "
            "the key vault administrator restore it",
        ),
        Code(SUCCESS, "Success", "the job completed"),
        Code(
            "6051-200",
            "Not provisioned",
            "the organisation is not provisioned for this product: the request does not "
            "apply to it",
        ),
        Code(
            "6052-200",
            "User IDs not found",
            "some user ids were not found and do not apply to this product: check that "
            "the identities are right",
        ),
        Code(
            "6053-200",
            "Invalid namespace",
            "the identity namespace is not valid for this product: use one it recognises",
        ),
        Code(
            "6054-200",
            "Partially completed",
            "completed for the data it applied to; some did not apply: review the job details",
        ),
    )
}


def explain(code: str) -> str:
    """One line for a code: its title and what to do, or the code alone when unknown."""
    known = CODES.get(code)
    if known is None:
        return f"{code} (not in Adobe's published codes)"
    return f"{code} {known.title}: {known.meaning}"
