"""``ConsentOptOut``: an opt-out of (or back into) the sale of personal data.

Adobe answers ``POST /consent`` with 202 and no body: there is no remote id,
no status and nothing to find again, so the ledger is the only record. An
unknown outcome is sent once more, which is safe because opting out twice has
the effect of opting out once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from reconciler.kinds.base import (
    Applied,
    Created,
    Listing,
    RemoteObject,
    RequestKind,
    StatusRecord,
    day_of,
    grouped,
)
from reconciler.reconcile.deadlines import OPT_OUT, Period

# Values per namespace in one consent request (its schema's maxItems).
MAX_VALUES_PER_NAMESPACE = 1_000

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.model import Request
    from reconciler.reconcile.tagging import Scope
    from reconciler.scaffold.csvids import CsvRow
    from reconciler.scaffold.options import Options
    from reconciler.yamlfile import PathKey


class ConsentOptOut(RequestKind):
    value = "ConsentOptOut"
    schema = "consent-opt-out.schema.json"
    folder = "consent"
    noun = "consent submission"
    findable = False

    def identity_paths(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str, PathKey]]:
        for i, entity in enumerate(spec["entities"]):
            for j, value in enumerate(entity["values"]):
                yield entity["nameSpace"], value, ("spec", "entities", i, "values", j)

    def target(self, spec: Mapping[str, Any]) -> str:
        return "opt-out of sale" if spec.get("optOutOfSale") else "opt-in to sale"

    def deadline_period(self, request_spec: Mapping[str, Any]) -> Period | None:
        return OPT_OUT

    def done_on(self, entry: Applied) -> date | None:
        # Adobe keeps nothing to finish: sent is done.
        return day_of(entry.submitted_at)

    # -- `reconciler new` -------------------------------------------------------------

    new_unit = ("identity", "identities")

    def new_limits(self, per_request: int) -> tuple[int, int | None, int | None]:
        return per_request, None, MAX_VALUES_PER_NAMESPACE

    def new_spec(
        self, options: Options, units: Sequence[CsvRow], first_user: int, part: str
    ) -> dict[str, Any]:
        entities = [{"nameSpace": ns, "values": values} for ns, values in grouped(units).items()]
        return {"optOutOfSale": True, "entities": entities}

    def new_notes(self, options: Options) -> list[str]:
        return ["# Once merged, these identities are opted out of the sale of their data."]

    def read(
        self,
        client: AdobeClient,
        unrecorded: Sequence[Request],
        applied: Sequence[Applied],
        today: date,
        scope: Scope,
    ) -> Listing:
        return Listing()

    def find(
        self, client: AdobeClient, request: Request, today: date, scope: Scope
    ) -> list[RemoteObject]:
        return []

    def create(self, client: AdobeClient, request: Request, scope: Scope) -> Created:
        entities: dict[str, list[str]] = {}
        for e in request.plain_spec()["entities"]:
            entities.setdefault(e["nameSpace"], []).extend(e["values"])
        client.privacy.submit_consent(entities, opt_out_of_sale=bool(request.spec["optOutOfSale"]))
        return Created((), "submitted")

    def refresh(self, client: AdobeClient, entry: Applied) -> StatusRecord | None:
        return None

    def is_final(self, status: StatusRecord | None) -> bool:
        return True  # nothing at Adobe can change after the submission


KIND = ConsentOptOut()
