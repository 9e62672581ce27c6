"""Ledger entries written out as the apply job writes them, for tests that need a request
recorded as applied without applying it (the rules against a base only ask whether the
ledger holds a name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# A fingerprint no request has: an entry written with it records a request as applied,
# but an online or offline plan would report the file as changed since (a conflict).
UNMATCHED = {"algorithm": "blake2b-256", "salt": "0" * 32, "digest": "f" * 64}


def entry_document(
    name: str,
    path: str,
    kind: str = "RecordDelete",
    remote: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ledger entry as ``schemas/ledger-entry.schema.json`` shapes it."""
    if remote is None:
        remote = {"workorderId": f"DI-{name}"} if kind == "RecordDelete" else {}
    return {
        "apiVersion": "reconciler/v1",
        "name": name,
        "kind": kind,
        "path": path,
        "fingerprint": UNMATCHED,
        "submittedAt": "2026-01-02T03:04:05Z",
        "declaredIn": None,
        "displayName": "Example",
        "description": "Example description.",
        "identityCount": 2,
        "remote": remote,
        **extra,
    }


def record_applied(root: Path, name: str, path: str, ledger: str = "ledger", **kw: Any) -> Path:
    """Write ``<ledger>/<name>.json`` under ``root`` for the request at ``path``."""
    target = root / ledger / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(entry_document(name, path, **kw), indent=2) + "\n")
    return target
