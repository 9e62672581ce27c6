"""A data subject's request filed under a kind that answers no data subject.

``metadata.receivedAt`` and ``metadata.extension`` belong to a data subject's
request: the day it was received, and the extension the subject was told of. On a
kind whose :meth:`~reconciler.kinds.base.RequestKind.deadline_period` is None
(data cleansing, retention) they set no deadline, and their presence says the
request was filed under the wrong kind. Adobe's workorder guide
(https://experienceleague.adobe.com/en/docs/experience-platform/data-lifecycle/api/workorder):
record deletes are "for data cleansing, removing anonymous data, or data
minimization", not for "data subject rights requests under privacy regulations
such as GDPR"; for those, Privacy Service, which is a ``PrivacyJob`` here.

A warning, not an error: repositories that filed such requests before keep
validating, and what was applied stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from reconciler.check.findings import Finding, Severity

if TYPE_CHECKING:
    from reconciler.model import Request

# The fields only a data subject's request has, in the order they are reported.
SUBJECT_FIELDS = ("receivedAt", "extension")


def misfiled_subject_request(request: Request, rule: str, why: str) -> Iterator[Finding]:
    """One warning (``rule``) at the first field of a data subject's request in
    ``metadata``, when the request's kind answers no data subject; ``why`` says what
    the kind is for instead."""
    if request.kind.deadline_period(request.spec) is not None:
        return
    field = next((f for f in SUBJECT_FIELDS if f in request.metadata), None)
    if field is None:
        return
    mark = request.where("metadata", field, key=True)
    yield Finding(
        request.path,
        mark.line,
        mark.column,
        rule,
        f"metadata.{field} marks a data subject's request, but {why}, and no deadline is "
        "tracked for it: file the request as a PrivacyJob (Privacy Service: users with "
        "action access or delete under its regulation, e.g. gdpr or ccpa), where "
        f"receivedAt sets the deadline, or remove {field}",
        Severity.WARNING,
    )
