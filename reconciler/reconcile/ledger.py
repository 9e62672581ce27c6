"""The ledger: the committed record of what was applied at Adobe.

One small JSON file per request, ``ledger/<name>.json``, shaped by
``schemas/ledger-entry.schema.json``. It holds names, remote ids, times, the
commit that declared the request, the last observed status and a fingerprint
of the request's immutable fields (:class:`Fingerprint`): never an identity. Files are
written atomically (temporary file, fsync, ``os.replace``), so a killed run
leaves either the old entry or the new one, never half of one.
"""

from __future__ import annotations

import hmac
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
from reconciler.reconcile.approvals import Approval
from reconciler.reconcile.intents import FOLDER as INTENTS
from reconciler.reconcile.intents import SCHEMA as INTENT_SCHEMA
from reconciler.reconcile.intents import Intent
from reconciler.schemas import check
from reconciler.secrets.crypto import FingerprintKeyError
from reconciler.secrets.fingerprintkey import ALGORITHM, LEGACY_ALGORITHM, FingerprintKey

LEDGER_VERSION = "reconciler/v1"
SCHEMA = "ledger-entry.schema.json"


class LedgerError(ReconcilerError):
    """A ledger file is unreadable or does not match its schema."""


@dataclass(frozen=True)
class Fingerprint:
    """A BLAKE2b hash of a request's immutable fields, keyed per entry.

    A request whose file stores its identities encrypted is fingerprinted with the
    repository's fingerprint key (``keyed-blake2b-256``, ``key_id`` names the key): the
    salt and digest then tell nothing to whoever lacks the key. A request in clear is
    fingerprinted with its salt alone (``blake2b-256``, ``key_id`` None), as every entry
    was before fingerprint keys: its identities are in the file anyway, and the check
    without any key can compare it. Entries made either way keep verifying.

    ``name`` is the request it was made for (its entry's name), to tell a comparison
    with that request from a comparison with another one.
    """

    salt: str
    digest: str
    key_id: str | None = None
    name: str = field(default="", compare=False)

    @property
    def algorithm(self) -> str:
        return ALGORITHM if self.key_id is not None else LEGACY_ALGORITHM

    @classmethod
    def of(
        cls, request: Request, salt: str | None = None, *, key: FingerprintKey | None = None
    ) -> Fingerprint:
        """A new fingerprint of ``request`` (a fresh salt unless given). ``key`` replaces
        the repository's fingerprint key for a request stored encrypted (a rotation)."""
        salt = salt or secrets.token_hex(16)
        if not request.sealed:
            return cls(salt, _hex(request, bytes.fromhex(salt)), name=request.name)
        request.require_decrypted()
        if key is None:
            request.require_plaintext()  # the repository's fingerprint key is at hand
            key = request.fingerprint_key()
            assert key is not None
        digest = _hex(request, key.entry_key(bytes.fromhex(salt)))
        return cls(salt, digest, key.key_id, request.name)

    def matches(self, request: Request) -> bool:
        """Whether ``request``'s immutable fields are those this fingerprint was made of.

        A keyed fingerprint needs the key it names. When the repository's key is missing
        or another one, :class:`FingerprintKeyError` says so rather than a mismatch (a
        conflict). A request in clear that validation handed on without the keyring
        cannot be keyed: another request's keyed fingerprint does not match it, and its
        own is an error (it was stored encrypted when applied)."""
        salt = bytes.fromhex(self.salt)
        if self.key_id is not None:
            request.require_decrypted()
            if request.keyring is None and self.name and self.name != request.name:
                return False
            salt = _key_of(request, self.key_id, self.name or request.name).entry_key(salt)
        return hmac.compare_digest(_hex(request, salt), self.digest)

    @staticmethod
    def for_plan(request: Request, salt: bytes) -> str:
        """What stands for ``request`` in a plan file's digest of its inputs, under the
        plan's ``salt``: keyed like its ledger fingerprint, so the plan file tests no
        guess either; the values as stored when they (or the key) are not at hand."""
        if request.locked:
            return request.stored_fingerprint(salt)
        if not request.sealed:
            return request.fingerprint(salt)
        try:
            key = request.fingerprint_key()
        except FingerprintKeyError:
            key = None  # an offline plan; a plan that can be applied has checked the key
        if key is None:
            return request.stored_fingerprint(salt)
        return request.fingerprint(key.entry_key(salt))

    def to_json(self) -> dict[str, str]:
        doc = {"algorithm": self.algorithm}
        if self.key_id is not None:
            doc["keyId"] = self.key_id
        return doc | {"salt": self.salt, "digest": self.digest}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], name: str = "") -> Fingerprint:
        return cls(doc["salt"], doc["digest"], doc.get("keyId"), name)


def _hex(request: Request, key: bytes) -> str:
    return request.fingerprint(key).removeprefix("blake2b:")


def _key_of(request: Request, key_id: str, entry: str) -> FingerprintKey:
    """The repository's fingerprint key if it is the one named ``key_id``; a
    :class:`FingerprintKeyError` saying what to do otherwise. ``entry`` names the
    ledger entry the fingerprint is of."""
    key = request.fingerprint_key()
    made = f"its ledger entry was fingerprinted with fingerprint key {key_id}"
    if key is None and request.keyring is None:  # validation decrypts stored ciphertexts only
        raise FingerprintKeyError(
            f"{request.path}: {made} while its identities were encrypted, and the file now "
            f"holds them in clear: encrypt them again (reconciler encrypt {request.path}); "
            "nothing was compared"
        )
    if key is None:
        raise FingerprintKeyError(
            f"{entry}: {made}, and reconciler.yaml has no encryption.fingerprintKey: "
            "restore it from git history (git log -p -- reconciler.yaml); without it the "
            "entry cannot be checked, and nothing is sent"
        )
    if key.key_id != key_id:
        raise FingerprintKeyError(
            f"{entry}: {made}, but encryption.fingerprintKey in reconciler.yaml is "
            f"key {key.key_id}: restore the key the ledger was made with (git log -p -- "
            "reconciler.yaml), or finish its rotation (reconciler rekey --fingerprint-key); "
            "nothing was compared"
        )
    return key


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
    # Where it was applied: the organisation, and for Data Hygiene kinds the sandbox.
    # None in entries written before they were recorded (the sandbox is then the
    # default one, see ``reconciler.kinds.base.applied_sandbox``).
    org_id: str | None = None
    sandbox: str | None = None
    # The pull request that brought the request and who approved it (apply --approvals).
    approval: Approval | None = None

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
            "fingerprint": self.fingerprint.to_json(),
            "submittedAt": self.submitted_at,
            "declaredIn": self.declared_in,
            "displayName": self.display_name,
            "description": self.description,
            "identityCount": self.identity_count,
        }
        # Only when known, so that an entry written before they were recorded is
        # rewritten (a status refresh) as it was.
        if self.org_id:
            doc["orgId"] = self.org_id
        if self.sandbox:
            doc["sandbox"] = self.sandbox
        doc["remote"] = {}
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
            if self.status.codes:
                doc["status"]["codes"] = [{"name": n, "code": c} for n, c in self.status.codes]
        if self.fields:
            doc["fields"] = dict(self.fields)
        if self.imported:
            doc["imported"] = True
        if self.recovered:
            doc["recovered"] = True
        if self.approval is not None:
            doc["approval"] = self.approval.to_json()
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
            fingerprint=Fingerprint.from_json(doc["fingerprint"], doc["name"]),
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
                codes=tuple((c["name"], c["code"]) for c in status.get("codes", ())),
            ),
            fields=dict(doc.get("fields", {})),
            imported=doc.get("imported", False),
            recovered=doc.get("recovered", False),
            org_id=doc.get("orgId"),
            sandbox=doc.get("sandbox"),
            approval=Approval.from_json(doc["approval"]) if doc.get("approval") else None,
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
    """The ledger folder: read all entries, write one at a time.

    ``intents`` are the creates sent (or about to be) whose entry is not written yet
    (:mod:`reconciler.reconcile.intents`), in ``intents/`` under the folder."""

    root: Path
    display_root: Path | None = None
    entries: dict[str, Entry] = field(default_factory=dict)
    intents: dict[str, Intent] = field(default_factory=dict)

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
        for path in sorted((root / INTENTS).glob("*.json")):
            ledger.intent_from(path)
        # Leftovers of a killed write are never read as entries; tidy them.
        for folder in (root, root / INTENTS):
            for tmp in folder.glob(".*.json.*.tmp"):
                tmp.unlink(missing_ok=True)
        return ledger

    def intent_from(self, path: Path) -> None:
        intent = Intent.from_json(self._document(path, INTENT_SCHEMA, "intent"))
        if path.stem != intent.name:
            raise LedgerError(
                f"{self._shown(path)}: holds the intent of {intent.name!r}; the file name "
                "must match"
            )
        self.intents[intent.name] = intent

    def entries_from(self, path: Path) -> None:
        entry = Entry.from_json(self._document(path, SCHEMA, "ledger"))
        if path.stem != entry.name:
            raise LedgerError(
                f"{self._shown(path)}: holds entry {entry.name!r}; the file name must match"
            )
        self.entries[entry.name] = entry

    def _document(self, path: Path, schema: str, what: str) -> dict[str, Any]:
        """A ledger folder's JSON file, checked against ``schema``; a :class:`LedgerError`
        naming the file otherwise (``what``: the kind of file, for the message)."""
        shown = self._shown(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise LedgerError(
                f"{shown}: not a readable {what} file ({e.__class__.__name__}); restore it "
                "from git (git checkout -- ledger/) rather than editing it by hand"
            ) from None
        errors = check(schema, doc)
        if errors:
            raise LedgerError(
                f"{shown}: {errors[0].message}; restore it from git rather than editing by hand"
            )
        checked: dict[str, Any] = doc
        return checked

    def path_of(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def put(self, entry: Entry) -> None:
        """Record ``entry`` durably before anything else happens; the intent of its
        create, if any, is done with and removed after it."""
        text = json.dumps(entry.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
        atomic_write(self.path_of(entry.name), text)
        self.entries[entry.name] = entry
        self.drop_intent(entry.name)

    def intent_path(self, name: str) -> Path:
        return self.root / INTENTS / f"{name}.json"

    def intent(self, name: str) -> Intent | None:
        return self.intents.get(name)

    def put_intent(self, intent: Intent) -> None:
        """Record ``intent`` durably: it must be on disk before the create is sent."""
        text = json.dumps(intent.to_json(), indent=2, ensure_ascii=False) + "\n"
        atomic_write(self.intent_path(intent.name), text)
        self.intents[intent.name] = intent

    def drop_intent(self, name: str) -> None:
        """Remove the intent of ``name`` (its entry is written, or it was never sent)."""
        if self.intents.pop(name, None) is None:
            return
        path = self.intent_path(name)
        path.unlink(missing_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if not self.intents:  # git keeps no empty folder: neither does the work tree
            try:
                path.parent.rmdir()
            except OSError:  # a leftover temporary file, or another writer
                pass

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
