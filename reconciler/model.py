"""Typed request objects built from validated request files.

A *request* is one YAML file's object, of one of the kinds in
:mod:`reconciler.kinds`; ``spec`` keeps Adobe's field names and is sent almost as
is. Every value can be located in its file through :meth:`Request.where`.

Identity values may be stored encrypted (``ENC[age:…]``, see
:mod:`reconciler.secrets.crypto`). ``spec`` always holds them as stored; a request
decrypted with :meth:`Request.decrypt` also holds their plaintext, in memory
only, and :meth:`Request.identities`, :meth:`Request.plain_spec` and the
fingerprint use it. A request whose values are still encrypted has no
fingerprint: comparing one with the ledger needs the key.

A decrypted request also carries the keyring it was decrypted with, whose
fingerprint key (``encryption.fingerprintKey``) keys the ledger fingerprint of a
request stored encrypted (see :mod:`reconciler.secrets.fingerprintkey`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from reconciler.kinds import Kind, RequestKind
from reconciler.secrets.crypto import (
    CryptoError,
    FingerprintKeyError,
    KeyMissingError,
    Keyring,
    is_encrypted,
)
from reconciler.secrets.fingerprintkey import FingerprintKey
from reconciler.yamlfile import Document, Mark, PathKey

API_VERSION = "reconciler/v1"

# What stands for an identity value when values cannot be compared (see ``immutable_fields``).
MASKED = "*"


@dataclass(frozen=True)
class Identity:
    """One identity value of a request and where it is written.

    ``stored`` is the value as the file holds it; ``value`` is the same, or its
    plaintext when the request was decrypted.
    """

    namespace: str
    value: str
    path: PathKey
    stored: str = ""

    @property
    def sealed(self) -> bool:
        """Stored encrypted in the file."""
        return is_encrypted(self.stored or self.value)

    @property
    def encrypted(self) -> bool:
        """Still ciphertext here: the request was not decrypted."""
        return is_encrypted(self.value)


@dataclass(frozen=True)
class Unreadable:
    """An encrypted value that could not be decrypted, and why (never the value)."""

    path: PathKey
    reason: str


@dataclass(frozen=True, eq=False)
class Request:
    """One declared request: envelope, spec and the document it came from."""

    kind: RequestKind
    name: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    document: Document
    plaintext: Mapping[PathKey, str] = field(default_factory=dict, repr=False)
    # The keyring :meth:`decrypt` used: it holds the repository's fingerprint key.
    keyring: Keyring | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def display_name(self) -> str:
        return str(self.spec.get("displayName", ""))

    @property
    def description(self) -> str:
        return str(self.spec.get("description", ""))

    def where(self, *path: str | int, key: bool = False) -> Mark:
        """Line and column of a value (or its key) in the request's file."""
        return self.document.locate(tuple(path), key=key)

    def _stored_identities(self) -> Iterator[tuple[str, str, PathKey]]:
        return self.kind.identity_paths(self.spec)

    def identities(self) -> Iterator[Identity]:
        """Every identity value the request names, in file order (decrypted if it was)."""
        plain = self.plaintext
        for namespace, stored, path in self._stored_identities():
            yield Identity(namespace, plain.get(path, stored), path, stored)

    def identity_count(self) -> int:
        return sum(1 for _ in self._stored_identities())

    @cached_property
    def locked(self) -> bool:
        """Some identity values are encrypted and were not decrypted: the key is needed."""
        return any(i.encrypted for i in self.identities())

    @cached_property
    def sealed(self) -> bool:
        """Some identity values are stored encrypted in the file."""
        return any(i.sealed for i in self.identities())

    def first_encrypted(self) -> Mark:
        """Where the first value that is still encrypted is written."""
        path = next((i.path for i in self.identities() if i.encrypted), ("spec",))
        return self.where(*path)

    def require_decrypted(self) -> None:
        """Raise :class:`KeyMissingError` when identity values are still encrypted."""
        if self.locked:
            mark = self.first_encrypted()
            raise KeyMissingError(
                f"{self.path}:{mark.line}:{mark.column}: identities are encrypted and no key "
                "decrypted them; set RECONCILER_AGE_KEY (or RECONCILER_AGE_KEY_FILE) to the "
                "age secret key. Nothing was sent"
            )

    def require_plaintext(self) -> None:
        """Raise unless the request can be sent and recorded: its values decrypted
        (:class:`KeyMissingError`) and, stored encrypted, the fingerprint key at hand to
        record it in the ledger (:class:`FingerprintKeyError`)."""
        self.require_decrypted()
        if self.sealed and self.fingerprint_key() is None:
            raise FingerprintKeyError(
                f"{self.path}: identities are encrypted, and reconciler.yaml has no "
                "encryption.fingerprintKey to fingerprint them with in the ledger (a "
                "fingerprint without it lets anyone who reads the repository test a guessed "
                "identity): if it was there before, restore it from git history (git log -p "
                "-- reconciler.yaml); if there never was one, run `reconciler encrypt` (no key "
                "needed) and commit reconciler.yaml. Nothing was sent"
            )

    def fingerprint_key(self) -> FingerprintKey | None:
        """The repository's fingerprint key, from the keyring this request was decrypted
        with; None when it was not decrypted or the repository has none."""
        return self.keyring.fingerprint_key() if self.keyring is not None else None

    def decrypt(self, keyring: Keyring) -> tuple[Request, tuple[Unreadable, ...]]:
        """This request with its encrypted values decrypted in memory, and those that
        would not decrypt (they stay encrypted). The request keeps ``keyring``, for its
        fingerprint key, even when nothing in it was encrypted."""
        keyring.identities()  # no key, or an unreadable one: an error of its own
        plain: dict[PathKey, str] = {}
        failed: list[Unreadable] = []
        for identity in self.identities():
            if identity.encrypted:
                try:
                    plain[identity.path] = keyring.decrypt(identity.value)
                except CryptoError as e:
                    failed.append(Unreadable(identity.path, str(e)))
        return replace(self, plaintext={**self.plaintext, **plain}, keyring=keyring), tuple(failed)

    def plain_spec(self) -> Mapping[str, Any]:
        """``spec`` with decrypted values in place of ciphertexts: what is sent to Adobe."""
        return self._plain_spec

    @cached_property
    def _plain_spec(self) -> Mapping[str, Any]:
        if not self.plaintext:
            return self.spec
        spec = copy.deepcopy(dict(self.spec))
        for path, value in self.plaintext.items():
            node: Any = spec
            for part in path[1:-1]:
                node = node[part]
            node[path[-1]] = value
        return spec

    def immutable_fields(self, *, masked: bool = False) -> dict[str, Any]:
        """What cannot change once applied: kind and spec minus the mutable fields.

        ``masked`` replaces every identity value by :data:`MASKED`: what can be
        compared when values are encrypted and cannot be decrypted (namespaces,
        counts and every other field)."""
        source = self.plain_spec()
        if masked:
            source = copy.deepcopy(dict(self.spec))
            for _, _, path in self._stored_identities():
                node: Any = source
                for part in path[1:-1]:
                    node = node[part]
                node[path[-1]] = MASKED
        mutable = self.kind.mutable_fields
        spec = {k: v for k, v in source.items() if k not in mutable}
        return {"kind": self.kind.value, "spec": spec}

    def fingerprint(self, key: bytes) -> str:
        """A keyed hash of the immutable fields with identities in clear: comparable,
        and the same however the file encrypts them. It reveals no identity to whoever
        cannot guess ``key``: the ledger keys it with the fingerprint key when the file
        stores the identities encrypted (:class:`reconciler.reconcile.ledger.Fingerprint`)."""
        self.require_decrypted()
        return _digest(self.immutable_fields(), key)

    def stored_fingerprint(self, key: bytes) -> str:
        """A keyed hash of the immutable fields as the file stores them (ciphertexts
        included): changes whenever the file's values do."""
        mutable = self.kind.mutable_fields
        spec = {k: v for k, v in self.spec.items() if k not in mutable}
        return _digest({"kind": self.kind.value, "spec": spec}, key)


def _digest(fields: Mapping[str, Any], key: bytes) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode("utf-8"), key=key[:64], digest_size=32)
    return "blake2b:" + digest.hexdigest()


def build_request(document: Document) -> Request:
    """Wrap a schema-valid document in a :class:`Request`."""
    data = document.data
    return Request(
        kind=Kind(data["kind"]),
        name=data["metadata"]["name"],
        metadata=data["metadata"],
        spec=data["spec"],
        document=document,
    )
