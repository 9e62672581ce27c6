"""``RecordDelete``: a Data Hygiene work order deleting identities' records from datasets.

For data cleansing, anonymous data and minimisation; Adobe's workorder guide
says record deletes are "not to be used for data subject rights requests"
(those are ``PrivacyJob``s). Work orders are listed in bulk by their tag
(``search=[reconciler:``, every scope's, ours kept by reading each tag) and a
``GET`` is made only for ledger entries the listing did not show (a
description edited by hand in Adobe's UI). A work order is shared by everyone
in its sandbox: the scope in its tag says which repository's it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.adobe import WorkOrder, WorkOrderStatus
from reconciler.adobe.quotas import DAILY_IDENTITIES, MONTHLY_IDENTITIES
from reconciler.check.findings import finding_at
from reconciler.errors import UsageError
from reconciler.kinds.base import Created, ListedKind, RemoteObject, grouped
from reconciler.kinds.subject import misfiled_subject_request
from reconciler.reconcile.tagging import TAG_PREFIX, UNSCOPED, Scope
from reconciler.settings import ADOBE_MAX_IDENTITIES_PER_WORK_ORDER

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.check.findings import Finding
    from reconciler.model import Request
    from reconciler.scaffold.csvids import CsvRow
    from reconciler.scaffold.options import Options
    from reconciler.settings import Settings
    from reconciler.yamlfile import PathKey


# `datasetId: ALL`: every dataset of the sandbox (only with metadata.allowAllDatasets).
ALL_DATASETS = "ALL"


# The spellings of a record delete's action: the request's (`delete_identity`), the
# response's (`identity-delete`) and a newer guide's (`delete-identity`); api-notes.
_DELETE_ACTIONS = frozenset({"delete_identity", "identity-delete", "delete-identity"})
RECORD_DELETE_ACTION = "delete_identity"


def work_order_object(order: WorkOrder) -> RemoteObject:
    facts = {}
    if order.dataset_id:
        facts["dataset"] = order.dataset_id
    if order.action:
        action = order.action.strip().lower()
        facts["action"] = RECORD_DELETE_ACTION if action in _DELETE_ACTIONS else order.action
    if order.operation_count is not None:  # the identities the work order holds
        facts["identity count"] = str(order.operation_count)
    return RemoteObject(
        remote_id=order.workorder_id,
        display_name=order.display_name or "",
        description=order.description or "",
        created_at=order.created_at or "",
        status=order.status,
        products=tuple((p.product_name, p.product_status) for p in order.product_status_details),
        facts=facts,
    )


def tagged_work_orders(
    client: AdobeClient, scope: Scope, name: str | None = None, sandbox: str | None = None
) -> list[WorkOrder]:
    """Work orders of ``sandbox`` (the client's when None) carrying a tag: of any scope for
    all of them, or one request's in ``scope`` (or without a scope) when ``name`` is given."""
    hygiene = client.hygiene if sandbox is None else client.hygiene.in_sandbox(sandbox)
    if name is None:
        return list(hygiene.iter_work_orders(search=TAG_PREFIX))
    orders = hygiene.iter_work_orders(search=scope.search(name))
    return [o for o in orders if scope.untag(o.description)[1] == name]


class RecordDelete(ListedKind):
    value = "RecordDelete"
    schema = "record-delete.schema.json"
    folder = "record-deletes"
    noun = "work order"
    ledger_key = "workorderId"
    updatable = True
    all_datasets = True
    max_identities = ADOBE_MAX_IDENTITIES_PER_WORK_ORDER
    final_statuses = frozenset(s.value for s in WorkOrderStatus if s.is_final)

    def identity_paths(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str, PathKey]]:
        for i, item in enumerate(spec.get("identities") or ()):
            yield item["namespace"]["code"], item["id"], ("spec", "identities", i, "id")
        for i, group in enumerate(spec.get("namespacesIdentities") or ()):
            code = group["namespace"]["code"]
            for j, value in enumerate(group["ids"]):
                yield code, value, ("spec", "namespacesIdentities", i, "ids", j)

    def target(self, spec: Mapping[str, Any]) -> str:
        return f"dataset {spec['datasetId']}"

    def consumption(self, identity_count: int) -> dict[str, int]:
        # Each identity counts once against both, as accepted (the workorder guide).
        return {DAILY_IDENTITIES: identity_count, MONTHLY_IDENTITIES: identity_count}

    def facts(self, request: Request) -> dict[str, str]:
        facts = {"dataset": str(request.spec["datasetId"]), "action": RECORD_DELETE_ACTION}
        if not request.metadata.get("imported"):  # an imported file names no identity
            facts["identity count"] = str(request.identity_count())
        return facts

    # -- `reconciler new` -------------------------------------------------------------

    new_unit = ("identity", "identities")
    new_flags = {
        "--dataset": "dataset",
        "--display-name": "display_name",
        "--description": "description",
    }

    def new_check(self, options: Options) -> dict[str, Any]:
        dataset = options.dataset
        if dataset is None:
            raise UsageError(
                "RecordDelete needs --dataset ID (the dataset to delete from) or --dataset ALL"
            )
        dataset = ALL_DATASETS if dataset.upper() == ALL_DATASETS else dataset
        if not re.fullmatch(r"ALL|[A-Za-z0-9]{1,64}", dataset):
            raise UsageError("--dataset must be a dataset id (letters and digits) or ALL")
        return {"dataset": dataset}

    def new_limits(self, per_request: int) -> tuple[int, int | None, int | None]:
        return min(per_request, ADOBE_MAX_IDENTITIES_PER_WORK_ORDER), None, None

    def new_units_problem(
        self, options: Options, source: str, units: Sequence[CsvRow]
    ) -> str | None:
        if options.dataset == ALL_DATASETS:
            return None
        namespaces = list(dict.fromkeys(u.identities[0].namespace for u in units))
        if len(namespaces) <= 1:
            return None
        return (
            f"{source} holds identities in {len(namespaces)} namespaces "
            f"({', '.join(namespaces)}), but a request for one dataset uses only that "
            "dataset's primary identity namespace: pick one with --namespace NS "
            "(one file per namespace), or delete from every dataset with --dataset ALL"
        )

    def new_spec(
        self, options: Options, units: Sequence[CsvRow], first_user: int, part: str
    ) -> dict[str, Any]:
        display = options.display_name or options.ticket or options.name
        spec: dict[str, Any] = {
            "datasetId": options.dataset,
            "displayName": display[: 256 - len(part)] + part,
        }
        if options.description:
            spec["description"] = options.description
        spec["namespacesIdentities"] = [
            {"namespace": {"code": ns}, "ids": ids} for ns, ids in grouped(units).items()
        ]
        return spec

    def new_notes(self, options: Options) -> list[str]:
        every = options.dataset == ALL_DATASETS
        where = "EVERY dataset in the sandbox" if every else f"dataset {options.dataset}"
        lines = [
            "# A record delete is for data cleansing, anonymous data and minimisation:",
            "# a data subject's access or erasure request is a PrivacyJob instead",
            "# (`reconciler new privacy-job --regulation gdpr …`), as Adobe says.",
            "# Once merged, the records of these identities are deleted from",
            f"# {where}; this cannot be undone.",
        ]
        if every:
            lines.append("# To confirm every dataset, add `allowAllDatasets: true` under metadata")
            lines.append("# yourself: validation refuses datasetId ALL until a person does.")
        lines.append("# Optional: spec.targetServices (default: all of them).")
        return lines

    def rules(self, request: Request, settings: Settings) -> Iterator[Finding]:
        yield from _all_datasets_opt_in(request)
        yield from _single_namespace(request)
        # Adobe's workorder guide: record deletes are not for data subject rights requests
        # (https://experienceleague.adobe.com/en/docs/experience-platform/data-lifecycle/api/workorder).
        yield from misfiled_subject_request(
            request,
            "record-delete-for-data-subject",
            "a RecordDelete is for data cleansing, anonymous data and minimisation "
            "(Adobe: record deletes are not for data subject rights requests)",
        )

    # -- Adobe ------------------------------------------------------------------------

    def list_tagged(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        return (work_order_object(o) for o in tagged_work_orders(client, UNSCOPED, None, sandbox))

    def get_one(self, client: AdobeClient, remote_id: str, sandbox: str) -> RemoteObject:
        return work_order_object(client.hygiene.in_sandbox(sandbox).get_work_order(remote_id))

    def list_unsearched(self, client: AdobeClient, sandbox: str) -> Iterable[RemoteObject]:
        orders = client.hygiene.in_sandbox(sandbox).iter_work_orders()
        return (work_order_object(o) for o in orders)

    def find(
        self, client: AdobeClient, request: Request, today: date, scope: Scope
    ) -> list[RemoteObject]:
        sandbox = self.sandbox(request, client)
        return [
            work_order_object(o) for o in tagged_work_orders(client, scope, request.name, sandbox)
        ]

    def find_since(
        self, client: AdobeClient, request: Request, since: date, today: date, scope: Scope
    ) -> list[RemoteObject]:
        # Every work order of the request's sandbox created in the window (Adobe's
        # fromDate/toDate), no search: the tag is matched here. The day after today bounds
        # a clock slightly behind.
        hygiene = client.hygiene.in_sandbox(self.sandbox(request, client))
        orders = hygiene.iter_work_orders(from_date=since, to_date=today + timedelta(days=1))
        return [
            work_order_object(o) for o in orders if scope.untag(o.description)[1] == request.name
        ]

    def choose(self, found: Sequence[RemoteObject]) -> tuple[RemoteObject, ...]:
        # Two tagged work orders for one request can only come from a duplicate create;
        # the oldest is the one recorded, the others are reported by the plan.
        return (min(found, key=lambda o: (o.created_at, o.remote_id)),) if found else ()

    def create(self, client: AdobeClient, request: Request, scope: Scope) -> Created:
        spec = request.spec
        order = client.hygiene.in_sandbox(self.sandbox(request, client)).create_work_order(
            dataset_id=spec["datasetId"],
            display_name=request.display_name,
            description=scope.tagged(request.description, request.name),
            identities=[(i.namespace, i.value) for i in request.identities()],
            target_services=spec.get("targetServices"),
        )
        return Created((work_order_object(order),), order.status)

    def update(self, client: AdobeClient, remote_id: str, request: Request, scope: Scope) -> str:
        # In the request's sandbox, which is its entry's: the plan refuses (a conflict) an
        # applied request whose sandbox changed. A PUT sends the whole description: read
        # the tag the work order has first, so that one tagged before scopes keeps that tag
        # (an update is rare; one GET more is cheap).
        hygiene = client.hygiene.in_sandbox(self.sandbox(request, client))
        current = hygiene.get_work_order(remote_id).description
        order = hygiene.update_work_order(
            remote_id,
            display_name=request.display_name,
            description=scope.retagged(current, request.description, request.name),
        )
        return order.status


def _all_datasets_opt_in(request: Request) -> Iterator[Finding]:
    """``datasetId: ALL`` needs ``metadata.allowAllDatasets: true``, visible in review."""
    if (
        request.spec.get("datasetId") == "ALL"
        and request.metadata.get("allowAllDatasets") is not True
    ):
        yield finding_at(
            request,
            ("spec", "datasetId"),
            "all-datasets-opt-in",
            "datasetId ALL deletes from every dataset in the sandbox; "
            "add `allowAllDatasets: true` under metadata to confirm, or name one dataset",
        )


def _single_namespace(request: Request) -> Iterator[Finding]:
    """With one dataset, every identity uses that dataset's primary namespace."""
    if request.spec.get("datasetId") == ALL_DATASETS:
        return
    first: str | None = None
    for identity in request.identities():
        if first is None:
            first = identity.namespace
        elif identity.namespace != first:
            path = identity.path[:-1] if identity.path[-1] == "id" else identity.path[:-2]
            yield finding_at(
                request,
                (*path, "namespace", "code"),
                "single-namespace",
                f"namespace {identity.namespace!r} differs from {first!r}: a request for one "
                "dataset uses only its primary identity namespace; "
                "split it into one request per namespace",
            )
            return


KIND = RecordDelete()
