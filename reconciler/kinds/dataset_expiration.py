"""``DatasetExpiration``: a dataset's time to live (Data Hygiene ``/ttl``).

The one object Adobe lets us really change: ``expiry``, ``displayName`` and
``description`` can be updated, and the expiration cancelled
(``DELETE /ttl/{id}``), but only while it is ``pending``; after that it is
``executing``, then ``completed``. A dataset has at most one expiration.

Cancellation is declared, never inferred: ``spec.cancelled: true`` in a
reviewed change plans a ``cancel``; removing the file cancels nothing.
An expiration is found again by its dataset and its tag (in ``description``),
ours only: another scope's expiration of a dataset is another repository's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.adobe.models import parse_instant
from reconciler.adobe.quotas import ACTIVE_EXPIRATIONS
from reconciler.check.findings import Finding
from reconciler.kinds.base import (
    DESCRIPTIVE_FIELDS,
    Applied,
    Created,
    ListedKind,
    Listing,
    RemoteObject,
)
from reconciler.kinds.subject import misfiled_subject_request
from reconciler.reconcile.tagging import TAG_PREFIX, Scope

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.adobe import DatasetExpiration as Expiration
    from reconciler.model import Request
    from reconciler.settings import Settings

# Adobe refuses an expiry less than 24 hours after the request (POST and PUT /ttl).
MIN_NOTICE = timedelta(hours=24)


def canonical_expiry(text: str) -> str:
    """The form expiries are compared in (``2030-12-31T00:00:00Z``); the text as is when
    it does not parse (the schema refuses such files before they get here)."""
    moment = parse_instant(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else text


def expiration_object(item: Expiration) -> RemoteObject:
    return RemoteObject(
        remote_id=item.ttl_id,
        display_name=item.display_name or "",
        description=item.description or "",
        created_at=item.updated_at or "",
        status=item.status_text or str(item.status),  # Adobe's own word for a new status
        fields={"expiry": canonical_expiry(item.expiry or ""), "datasetId": item.dataset_id},
        facts={"dataset": item.dataset_id},
    )


class DatasetExpiration(ListedKind):
    value = "DatasetExpiration"
    schema = "dataset-expiration.schema.json"
    folder = "dataset-expirations"
    noun = "dataset expiration"
    ledger_key = "ttlId"
    mutable_fields = (*DESCRIPTIVE_FIELDS, "expiry", "cancelled")
    updatable = True
    cancellable = True
    final_statuses = frozenset({"completed", "cancelled"})
    open_statuses = frozenset({"pending"})

    def target(self, spec: Mapping[str, Any]) -> str:
        return f"dataset {spec['datasetId']} expires {canonical_expiry(str(spec['expiry']))}"

    def facts(self, request: Request) -> dict[str, str]:
        return {"dataset": str(request.spec["datasetId"])}

    def consumption(self, identity_count: int) -> dict[str, int]:
        # One of the expirations active at once, until it executes or is cancelled.
        return {ACTIVE_EXPIRATIONS: 1}

    def desired(self, request: Request) -> dict[str, str]:
        return {"expiry": canonical_expiry(str(request.spec["expiry"]))}

    def cancelled(self, request: Request) -> bool:
        return request.spec.get("cancelled") is True

    def too_soon(self, request: Request, now: datetime) -> str | None:
        """Why Adobe would refuse the expiry now, or None."""
        moment = parse_instant(str(request.spec["expiry"]))
        if moment is not None and moment - now >= MIN_NOTICE:
            return None
        return (
            f"expiry {request.spec['expiry']} is less than 24 hours away and Adobe refuses it; "
            "set an expiry at least a day after the change is applied"
        )

    def rules(self, request: Request, settings: Settings) -> Iterator[Finding]:
        yield from misfiled_subject_request(
            request,
            "expiration-for-data-subject",
            "a DatasetExpiration deletes a whole dataset on a date (retention), "
            "not a data subject's records",
        )

    def across(self, requests: Iterable[Request]) -> Iterator[Finding]:
        """One expiration per dataset in the repository (cancelled ones aside)."""
        first: dict[str, Request] = {}
        for request in sorted(requests, key=lambda r: r.path):
            if request.kind is not self or self.cancelled(request):
                continue
            dataset = str(request.spec["datasetId"])
            other = first.setdefault(dataset, request)
            if other is request:
                continue
            mark = request.where("spec", "datasetId")
            line = other.where("spec", "datasetId").line
            yield Finding(
                request.path,
                mark.line,
                mark.column,
                "one-expiration-per-dataset",
                f"dataset {dataset} already has an expiration in {other.path}:{line}; Adobe "
                "keeps one per dataset: change that file, or cancel it first",
            )

    # -- Adobe ------------------------------------------------------------------------

    def list_tagged(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        # The listing's search is not documented to be literal: tags are matched locally.
        items = client.ttl.in_sandbox(sandbox).list_expirations(search=TAG_PREFIX)
        return (expiration_object(i) for i in items)

    def get_one(self, client: AdobeClient, remote_id: str, sandbox: str) -> RemoteObject:
        return expiration_object(client.ttl.in_sandbox(sandbox).get_expiration(remote_id))

    def list_unsearched(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        return (expiration_object(i) for i in client.ttl.in_sandbox(sandbox).list_expirations())

    def read(
        self,
        client: AdobeClient,
        unrecorded: Sequence[Request],
        applied: Sequence[Applied],
        today: date,
        scope: Scope,
    ) -> Listing:
        listing = super().read(client, unrecorded, applied, today, scope)
        by_name = {k: list(v) for k, v in listing.by_name.items()}
        for request in unrecorded:  # by dataset too: never conclude "absent" from a search
            if not by_name.get(request.name):
                found = self.find(client, request, today, scope)
                if found:
                    by_name[request.name] = found
        return Listing(by_name, listing.by_id, listing.notes)

    def find(
        self, client: AdobeClient, request: Request, today: date, scope: Scope
    ) -> list[RemoteObject]:
        dataset = str(request.spec["datasetId"])
        ttl = client.ttl.in_sandbox(self.sandbox(request, client))
        return [
            expiration_object(item)
            for item in ttl.list_expirations(dataset_id=dataset)
            if item.dataset_id == dataset and scope.untag(item.description)[1] == request.name
        ]

    def choose(self, found: Sequence[RemoteObject]) -> tuple[RemoteObject, ...]:
        # A cancelled expiration of the same request (cancelled by hand) is history; the
        # live one, if any, is the request's.
        live = [o for o in found if o.status != "cancelled"] or list(found)
        return (max(live, key=lambda o: (o.created_at, o.remote_id)),) if live else ()

    def create(self, client: AdobeClient, request: Request, scope: Scope) -> Created:
        spec = request.spec
        item = client.ttl.in_sandbox(self.sandbox(request, client)).create_expiration(
            dataset_id=str(spec["datasetId"]),
            expiry=str(spec["expiry"]),
            display_name=request.display_name,
            description=scope.tagged(request.description, request.name),
        )
        return Created((expiration_object(item),), item.status_text or str(item.status))

    def update(self, client: AdobeClient, remote_id: str, request: Request, scope: Scope) -> str:
        # As for work orders: in the request's sandbox (its entry's, or the plan is a
        # conflict), keeping the tag the expiration has (one GET, for a rare update).
        ttl = client.ttl.in_sandbox(self.sandbox(request, client))
        current = ttl.get_expiration(remote_id).description
        item = ttl.update_expiration(
            remote_id,
            expiry=str(request.spec["expiry"]),
            display_name=request.display_name,
            description=scope.retagged(current, request.description, request.name),
        )
        return item.status_text or str(item.status)

    def cancel(self, client: AdobeClient, remote_id: str) -> str:
        # In the client's sandbox: the applier passes one in the entry's sandbox
        # (``AdobeClient.in_sandbox``).
        item = client.ttl.cancel_expiration(remote_id)
        return item.status_text or str(item.status)


KIND = DatasetExpiration()
