"""Adopting work orders created elsewhere (Adobe's UI, a script) into the repository.

An imported request has no identities, because Adobe never returns them; its
file says so. The ledger entry marks it ``imported``; from then on its
displayName and description are managed from the file like any other.

A work order tagged with another repository's scope is that repository's, and
is refused: imported here too, two repositories would manage one work order.
One tagged with ours, or tagged before scopes, is named after its tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.adobe import AdobeClient
from reconciler.check.validation import display_path, load_file
from reconciler.errors import ReconcilerError
from reconciler.model import API_VERSION, Request
from reconciler.reconcile.ledger import (
    Entry,
    Fingerprint,
    Ledger,
    StatusRecord,
    atomic_write,
    utc_now,
)
from reconciler.reconcile.tagging import read_tag, untag
from reconciler.settings import Settings

HEADER = """\
# yaml-language-server: $schema={schema}
# Imported from Adobe work order {workorder_id} on {date} by `reconciler import`.
# Adobe never returns a work order's identities, so this request lists none: it
# records the work order so that its displayName and description are managed here.
"""


class WorkOrderImportError(ReconcilerError):
    """A work order cannot be imported."""


@dataclass(frozen=True)
class Imported:
    name: str
    path: str
    workorder_id: str


def name_for(workorder_id: str, description: str | None) -> str:
    """The tag's name when the work order carries one, else one derived from its id."""
    _, tagged_name = untag(description)
    if tagged_name:
        return tagged_name
    slug = re.sub(r"[^a-z0-9]+", "-", workorder_id.lower()).strip("-")
    return f"imported-{slug}"[:63].rstrip("-")


def _document(name: str, order: Any) -> dict[str, Any]:
    text, _ = untag(order.description)
    spec: dict[str, Any] = {
        "datasetId": order.dataset_id or "ALL",
        "displayName": (order.display_name or order.workorder_id)[:256],
    }
    if text:
        spec["description"] = text[:1024]
    metadata: dict[str, Any] = {"name": name, "imported": True}
    if spec["datasetId"] == "ALL":
        metadata["allowAllDatasets"] = True
    return {"apiVersion": API_VERSION, "kind": "RecordDelete", "metadata": metadata, "spec": spec}


def import_work_orders(
    client: AdobeClient, settings: Settings, ledger: Ledger, ids: list[str], folder: str
) -> list[Imported]:
    """Write a request file and a ledger entry for each work order id."""
    target = settings.requests_path / folder
    existing = {p.stem for p in settings.requests_path.rglob("*.y*ml")}
    done = []
    for workorder_id in ids:
        order = client.hygiene.get_work_order(workorder_id)
        _, tag = read_tag(order.description)
        if tag is not None and not settings.scope.owns(tag):
            raise WorkOrderImportError(
                f"{workorder_id}: it carries the tag of another repository (scope "
                f"{tag.scope}), which manages it; import it there, if anywhere"
            )
        name = name_for(order.workorder_id, order.description)
        if name in existing or ledger.get(name) is not None:
            raise WorkOrderImportError(
                f"{workorder_id}: request {name!r} already exists in this repository"
            )
        path = target / f"{name}.yaml"
        schema = Path("../" * len(path.relative_to(settings.root).parts[:-1])) / "schemas"
        header = HEADER.format(
            schema=(schema / "request.schema.json").as_posix(),
            workorder_id=order.workorder_id,
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
        )
        body = yaml.safe_dump(_document(name, order), sort_keys=False, allow_unicode=True)
        atomic_write(path, header + body)
        request, findings = load_file(path, settings.root)
        if request is None:
            path.unlink()
            first = findings[0].message if findings else "invalid"
            raise WorkOrderImportError(f"{workorder_id}: cannot write a valid request ({first})")
        ledger.put(_entry(request, order, display_path(path, settings.root)))
        existing.add(name)
        done.append(Imported(name, display_path(path, settings.root), order.workorder_id))
    return done


def _entry(request: Request, order: Any, path: str) -> Entry:
    text, _ = untag(order.description)
    return Entry(
        name=request.name,
        kind=request.kind,
        path=path,
        fingerprint=Fingerprint.of(request),
        submitted_at=order.created_at or utc_now(),
        display_name=order.display_name or "",
        description=text,
        remote_id=order.workorder_id,
        status=StatusRecord(order.status, utc_now()),
        imported=True,
    )
