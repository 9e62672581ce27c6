"""Data Hygiene record delete work orders (``/data/core/hygiene``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any, NamedTuple, TypeVar

from reconciler.adobe.errors import InvalidArgumentError, InvalidResponseError
from reconciler.adobe.fields import Fields, is_safe_id
from reconciler.adobe.models import Quota, WorkOrder, WorkOrderPage
from reconciler.adobe.paging import Listing, Page, Scope, Told
from reconciler.adobe.transport import HYGIENE, Params, Transport, check_sandbox, path_segment

log = logging.getLogger("reconciler.adobe")
T = TypeVar("T")

# Adobe's documented ceiling for one work order created by API (the UI allows 10,000).
MAX_IDENTITIES_PER_WORK_ORDER = 100_000
MAX_PAGE_LIMIT = 100


class Identity(NamedTuple):
    """One identity to delete, in the seed's ``identities`` form."""

    namespace: str
    id: str


class HygieneApi:
    """Work orders and quotas. Use through ``AdobeClient.hygiene``.

    Work orders live in one sandbox each: the calls go to the configuration's sandbox,
    or to another one through :meth:`in_sandbox` (same connections, token and limits).
    """

    def __init__(self, transport: Transport, sandbox: str | None = None) -> None:
        self._transport = transport
        self._sandbox = None if sandbox is None else check_sandbox(sandbox)

    @property
    def sandbox(self) -> str:
        """The sandbox these calls go to (``x-sandbox-name``)."""
        return self._sandbox or self._transport.config.sandbox_name

    def in_sandbox(self, sandbox: str) -> HygieneApi:
        """The same calls in ``sandbox``, over the same transport."""
        return HygieneApi(self._transport, sandbox)

    def _call(self, method: str, path: str, parse: Callable[[object], T], **kw: Any) -> T:
        return self._transport.call(HYGIENE, method, path, parse, sandbox=self._sandbox, **kw)

    def create_work_order(
        self,
        *,
        dataset_id: str,
        display_name: str,
        description: str,
        namespaces_identities: Mapping[str, Sequence[str]] | None = None,
        identities: Iterable[Identity | tuple[str, str]] | None = None,
        target_services: Sequence[str] | None = None,
    ) -> WorkOrder:
        """``POST /workorder`` with ``action: delete_identity``. Not idempotent.

        Give identities either grouped (``{"email": ["a@x", …]}``) or as ``(namespace, id)``
        pairs; both are sent in the grouped ``namespacesIdentities`` form, which the docs
        recommend. Duplicate ids are sent once. May raise ``OutcomeUnknownError``.
        """
        if (namespaces_identities is None) == (identities is None):
            raise InvalidArgumentError("give exactly one of namespaces_identities and identities")
        if namespaces_identities is not None:
            pairs: Iterable[tuple[str, str]] = (
                (namespace, value)
                for namespace, values in namespaces_identities.items()
                for value in _strings(values, "namespaces_identities values")
            )
        else:
            assert identities is not None
            pairs = identities
        grouped = _group(pairs)
        total = sum(len(ids) for ids in grouped.values())
        if total == 0:
            raise InvalidArgumentError("a work order needs at least one identity")
        if total > MAX_IDENTITIES_PER_WORK_ORDER:
            raise InvalidArgumentError(
                f"{total} identities exceed Adobe's {MAX_IDENTITIES_PER_WORK_ORDER} per work order"
            )
        if dataset_id != "ALL" and not is_safe_id(dataset_id):
            raise InvalidArgumentError("dataset_id must be a dataset id or ALL")
        if not isinstance(display_name, str) or not isinstance(description, str):
            raise InvalidArgumentError("display_name and description must be strings")
        body: dict[str, object] = {
            "action": "delete_identity",
            "datasetId": dataset_id,
            "displayName": display_name,
            "description": description,
            # ``IDs`` as in the OpenAPI spec (required there) and the current workorder guide.
            "namespacesIdentities": [
                {"namespace": {"code": code}, "IDs": ids} for code, ids in grouped.items()
            ],
        }
        if target_services is not None:
            body["targetServices"] = list(_strings(target_services, "target_services"))
        redact = [value for ids in grouped.values() for value in ids]
        parse = partial(_parse_created, dataset_id, display_name, description)
        return self._call("POST", "/workorder", parse, body=body, redact=redact)

    def get_work_order(self, workorder_id: str) -> WorkOrder:
        """``GET /workorder/{id}``; ``NotFoundError`` if Adobe does not know it."""
        return self._call("GET", _work_order_path(workorder_id), WorkOrder.from_api)

    def update_work_order(
        self,
        workorder_id: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
    ) -> WorkOrder:
        """``PUT /workorder/{id}``: only the display name and description can change."""
        if display_name is None and description is None:
            raise InvalidArgumentError("nothing to update: give display_name and/or description")
        path = _work_order_path(workorder_id)
        # The seed page and older docs send ``displayName``; the spec and newest doc say
        # ``name``. api-notes: send ``displayName`` unless shown otherwise. If the answer
        # shows the name unchanged, the server wants ``name``: send that once (PUT is idempotent).
        body: dict[str, object] = {}
        if display_name is not None:
            body["displayName"] = display_name
        if description is not None:
            body["description"] = description
        updated = self._call("PUT", path, WorkOrder.from_api, body=body)
        if display_name is not None and updated.display_name != display_name:
            log.debug("PUT %s ignored displayName; resending it as name", path)
            body["name"] = body.pop("displayName")
            updated = self._call("PUT", path, WorkOrder.from_api, body=body)
        return updated

    def iter_work_orders(
        self,
        *,
        search: str | None = None,
        status: str | Iterable[str] | None = None,
        author: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        workorder_id: str | None = None,
        sandbox_name: str | None = None,
        from_date: date | str | None = None,
        to_date: date | str | None = None,
        filter_date: date | str | None = None,
        order_by: str | None = None,
        limit: int = MAX_PAGE_LIMIT,
    ) -> Iterator[WorkOrder]:
        """``GET /workorder``, every page, each work order once.

        Pages are read until an empty one, never by the ``next`` link (Adobe's example
        shows one on the last page), and the work orders found must add up to every
        ``total`` and ``count`` the pages gave, or the listing is read once more, and then
        raises ``InvalidResponseError`` (see ``paging``); nothing is yielded before that.
        A server that repeats a page in both readings, or whose pages never end, gets
        ``InvalidResponseError`` rather than a loop. ``sandbox_name`` lists another
        sandbox than :attr:`sandbox`, or ``*`` every sandbox of the organisation (the
        spec's work orders do not say which sandbox each is in).
        """
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise InvalidArgumentError(f"limit must be within 1..{MAX_PAGE_LIMIT}")
        if (from_date is None) != (to_date is None):
            raise InvalidArgumentError("give both from_date and to_date, or neither")
        params: dict[str, str | int] = {"type": "identity-delete", "limit": limit}
        if status is not None:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        for name, value in (
            ("search", search),
            ("author", author),
            ("displayName", display_name),
            ("description", description),
            ("workorderId", workorder_id),
            ("sandboxName", sandbox_name),
            ("orderBy", order_by),
        ):
            if value is not None:
                params[name] = value
        for name, day in (
            ("fromDate", from_date),
            ("toDate", to_date),
            ("filterDate", filter_date),
        ):
            if day is not None:
                params[name] = day.isoformat() if isinstance(day, date) else day
        yield from self._pages(params, limit)

    def list_work_orders(self, **filters: Any) -> list[WorkOrder]:
        """All of ``iter_work_orders`` as a list (same keyword filters)."""
        return list(self.iter_work_orders(**filters))

    def _pages(self, params: Params, limit: int) -> tuple[WorkOrder, ...]:
        def read(page: int) -> Page[WorkOrder]:
            result = self._call(
                "GET",
                "/workorder",
                partial(WorkOrderPage.from_api, where=f"work order list page {page}"),
                params={**params, "page": page},
            )
            # The spec's WorkorderListResponse: ``total`` is the "total number of work order
            # requests", ``count`` the "number of work orders in the current page".
            told = [
                Told(name, value, scope)
                for name, value, scope in (
                    ("total", result.total, Scope.LISTING),
                    ("count", result.count, Scope.PAGE),
                )
                if value is not None
            ]
            return Page(result.results, tuple(told))

        return Listing(
            read,
            key=lambda order: order.workorder_id,
            endpoint=f"GET {HYGIENE.base}/workorder",
            noun="work orders",
            limit=limit,
            max_pages=self._transport.config.max_pages,
        ).collect()

    def get_quota(self, quota_type: str | None = None) -> tuple[Quota, ...]:
        """``GET /quota``: usage against the org's limits."""
        params = {"quotaType": quota_type} if quota_type else None
        return self._call("GET", "/quota", _parse_quotas, params=params)


def _parse_created(dataset_id: str, display_name: str, description: str, data: object) -> WorkOrder:
    """The created work order, which must show what was sent (read after a POST, so the
    caller sees ``OutcomeUnknownError`` and looks for it by its tag): an answer about
    another work order would be recorded as this one. Fields left out are not held
    against it (the workorder guide's answers carry them all)."""
    order = WorkOrder.from_api(data, "created work order")
    differ = [
        name
        for name, sent, got in (
            ("datasetId", dataset_id, order.dataset_id),
            ("displayName", display_name, order.display_name),
            ("description", description, order.description),
        )
        # No source shows how the answer spells datasetId for ALL: only a dataset is checked.
        if got is not None and got != sent and not (name == "datasetId" and sent == "ALL")
    ]
    if differ:
        raise InvalidResponseError(
            f"POST {HYGIENE.base}/workorder: the answer shows another {', '.join(differ)}"
            " than was sent"
        )
    return order


def _parse_quotas(data: object) -> tuple[Quota, ...]:
    f = Fields(data, "quota answer")
    return tuple(Quota.from_api(q) for q in f.objects("quotas", required=True))


def _work_order_path(workorder_id: str) -> str:
    if not is_safe_id(workorder_id):
        raise InvalidArgumentError("not a well-formed work order id")
    return "/workorder/" + path_segment(workorder_id)


def _strings(values: object, what: str) -> Iterator[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidArgumentError(f"{what} must be a list of strings")
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgumentError(f"{what} must hold non-empty strings")
        yield value


def _group(pairs: Iterable[Identity | tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidArgumentError("each identity must be a (namespace, id) pair")
        namespace, value = pair
        if not isinstance(namespace, str) or not namespace.strip():
            raise InvalidArgumentError("identity namespaces must be non-empty strings")
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgumentError("identity ids must be non-empty strings")
        if (namespace, value) not in seen:
            seen.add((namespace, value))
            grouped.setdefault(namespace, []).append(value)
    return grouped
