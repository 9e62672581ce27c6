"""The ledger: the committed record of what was applied at Adobe.

One small JSON file per request, ``ledger/<name>.json``, shaped by
``schemas/ledger-entry.schema.json``. It holds names, remote ids, times, the
commit that declared the request, the last observed status and a salted
fingerprint of the request's immutable fields: never an identity. Files are
written atomically (temporary file, fsync, ``os.replace``), so a killed run
leaves either the old entry or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.kinds import Kind, RequestKind
from reconciler.kinds.base import RemoteJob, StatusRecord, utc_now
from reconciler.model import Request
from reconciler.schemas import check

LEDGER_VERSION = "reconciler/v1"
SCHEMA = "ledger-entry.schema.json"


class LedgerError(ReconcilerError):
    """A ledger file is unreadable or does not match its schema."""


@dataclass(frozen=True)
class Fingerprint:
    """A keyed BLAKE2b hash of a request's immutable fields with a per-entry salt."""

    salt: str
    digest: str

    @classmethod
    def of(cls, request: Request, salt: str | None = None) -> Fingerprint:
        salt = salt or secrets.token_hex(16)
        return cls(salt, request.fingerprint(bytes.fromhex(salt)).removeprefix("blake2b:"))

    def matches(self, request: Request) -> bool:
        return Fingerprint.of(request, self.salt).digest == self.digest


@dataclass(frozen=True)
class Entry:
    """What the ledger knows about one applied request."""

    name: str
    kind: RequestKind
    path: str
    fingerprint: Fingerprint
    submitted_at: str
    display_name: str = ""
    description: str = ""
    declared_in: str | None = None
    remote_id: str | None = None
    request_id: str | None = None
    jobs: tuple[RemoteJob, ...] = ()
    status: StatusRecord | None = None
    imported: bool = False
    recovered: bool = False
    identity_count: int = 0
    # Mutable fields beyond displayName/description as last applied (an expiry).
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def remote_ids(self) -> tuple[str, ...]:
        if self.remote_id:
            return (self.remote_id,)
        return tuple(j.job_id for j in self.jobs)

    def with_status(self, status: StatusRecord) -> Entry:
        return replace(self, status=status)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "apiVersion": LEDGER_VERSION,
            "name": self.name,
            "kind": self.kind.value,
            "path": self.path,
            "fingerprint": {
                "algorithm": "blake2b-256",
                "salt": self.fingerprint.salt,
                "digest": self.fingerprint.digest,
            },
            "submittedAt": self.submitted_at,
            "declaredIn": self.declared_in,
            "displayName": self.display_name,
            "description": self.description,
            "identityCount": self.identity_count,
            "remote": {},
        }
        if self.remote_id:
            doc["remote"][self.kind.ledger_key] = self.remote_id
        if self.request_id:
            doc["remote"]["requestId"] = self.request_id
        if self.jobs:
            doc["remote"]["jobs"] = [
                {"jobId": j.job_id, "userKey": j.user_key}
                | {k: v for k, v in (("action", j.action), ("product", j.product)) if v}
                for j in self.jobs
            ]
        if self.status is not None:
            doc["status"] = {
                "value": self.status.value,
                "observedAt": self.status.observed_at,
                "products": [{"name": n, "status": s} for n, s in self.status.products],
            }
        if self.fields:
            doc["fields"] = dict(self.fields)
        if self.imported:
            doc["imported"] = True
        if self.recovered:
            doc["recovered"] = True
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Entry:
        remote = doc.get("remote", {})
        status = doc.get("status")
        kind = Kind(doc["kind"])
        return cls(
            name=doc["name"],
            kind=kind,
            path=doc["path"],
            fingerprint=Fingerprint(doc["fingerprint"]["salt"], doc["fingerprint"]["digest"]),
            submitted_at=doc["submittedAt"],
            declared_in=doc.get("declaredIn"),
            display_name=doc.get("displayName", ""),
            description=doc.get("description", ""),
            identity_count=doc.get("identityCount", 0),
            remote_id=remote.get(kind.ledger_key) if kind.ledger_key else None,
            request_id=remote.get("requestId"),
            jobs=tuple(
                RemoteJob(
                    job_id=j["jobId"],
                    user_key=j["userKey"],
                    action=j.get("action", ""),
                    product=j.get("product", ""),
                )
                for j in remote.get("jobs", ())
            ),
            status=None
            if status is None
            else StatusRecord(
                value=status["value"],
                observed_at=status["observedAt"],
                products=tuple((p["name"], p["status"]) for p in status.get("products", ())),
            ),
            fields=dict(doc.get("fields", {})),
            imported=doc.get("imported", False),
            recovered=doc.get("recovered", False),
        )


def _read_umask() -> int:
    # Read once, at import, while single-threaded: os.umask can only be read by setting it.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); keep the mode the file had, or the umask's.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Ledger:
    """The ledger folder: read all entries, write one at a time."""

    root: Path
    display_root: Path | None = None
    entries: dict[str, Entry] = field(default_factory=dict)

    def _shown(self, path: Path) -> str:
        base = self.display_root or self.root.parent
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return str(path)

    @classmethod
    def load(cls, root: Path, display_root: Path | None = None) -> Ledger:
        ledger = cls(root, display_root)
        if not root.is_dir():
            return ledger
        for path in sorted(root.glob("*.json")):
            ledger.entries_from(path)
        # Leftovers of a killed write are never read as entries; tidy them.
        for tmp in root.glob(".*.json.*.tmp"):
            tmp.unlink(missing_ok=True)
        return ledger

    def entries_from(self, path: Path) -> None:
        shown = self._shown(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise LedgerError(
                f"{shown}: not a readable ledger file ({e.__class__.__name__}); restore it "
                "from git (git checkout -- ledger/) rather than editing it by hand"
            ) from None
        errors = check(SCHEMA, doc)
        if errors:
            raise LedgerError(
                f"{shown}: {errors[0].message}; restore it from git rather than editing by hand"
            )
        entry = Entry.from_json(doc)
        if path.stem != entry.name:
            raise LedgerError(f"{shown}: holds entry {entry.name!r}; the file name must match")
        self.entries[entry.name] = entry

    def path_of(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def put(self, entry: Entry) -> None:
        """Record ``entry`` durably before anything else happens."""
        text = json.dumps(entry.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
        atomic_write(self.path_of(entry.name), text)
        self.entries[entry.name] = entry

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self.entries)


__all__ = [
    "LEDGER_VERSION",
    "SCHEMA",
    "Entry",
    "Fingerprint",
    "Ledger",
    "LedgerError",
    "RemoteJob",
    "StatusRecord",
    "atomic_write",
    "utc_now",
]
