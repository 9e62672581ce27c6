"""``metadata.retryOf``: submitting again a request Adobe failed, and only such a one.

A request's name is permanent and an applied request is never sent twice, so a failed
one (a work order Adobe failed, privacy jobs in error, an object Adobe no longer has)
is submitted again as a new request that names it. That request may repeat the failed
one's immutable fields (``already-applied`` is not raised for it); anything else about
the link is an error: it must name an applied request of the same kind that failed, and
only one request may retry it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from reconciler.check.findings import Finding, finding_at
from reconciler.model import Request
from reconciler.reconcile.ledger import Entry
from reconciler.reconcile.lifecycle import failed

RETRY_OF = ("metadata", "retryOf")


def retry_of(request: Request) -> str | None:
    value = request.metadata.get("retryOf")
    return value if isinstance(value, str) else None


def is_retry(request: Request, entry: Entry) -> bool:
    """Whether ``request`` is the declared retry of the failed ``entry``."""
    return retry_of(request) == entry.name and failed(entry)


def retry_findings(requests: Iterable[Request], entries: Mapping[str, Entry]) -> Iterator[Finding]:
    """The errors of each ``retryOf`` link (see the module docstring)."""
    first: dict[str, str] = {}
    for request in sorted(requests, key=lambda r: r.path):
        target = retry_of(request)
        if target is None:
            continue
        entry = entries.get(target)
        if target == request.name:
            problem = "names this request itself: name the failed request this one submits again"
        elif entry is None:
            problem = (
                f"names {target!r}, which the ledger does not hold as applied: only an applied "
                "request that failed at Adobe can be submitted again"
            )
        elif entry.kind is not request.kind:
            problem = (
                f"names {target!r}, a {entry.kind.value}: a retry is a request of the same kind"
            )
        elif not failed(entry):
            status = entry.status.value if entry.status else "none recorded"
            problem = (
                f"names {target!r}, which has not failed at Adobe (its last status: {status}; "
                "`reconciler status` refreshes it): a request that did not fail is never "
                "submitted twice"
            )
        elif target in first:
            problem = f"names {target!r}, which {first[target]!r} already submits again"
        else:
            first[target] = request.name
            continue
        yield finding_at(request, RETRY_OF, "retry-of", f"metadata.retryOf {problem}")
