"""Typed request objects built from validated request files.

A *request* is one YAML file's object (``RecordDelete``, ``PrivacyJob`` or
``ConsentOptOut``); ``spec`` keeps Adobe's field names and is sent almost as
is. Every value can be located in its file through :meth:`Request.where`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.yamlfile import Document, Mark, PathKey

API_VERSION = "reconciler/v1"

# Only these fields can be changed at Adobe after creation (PUT /workorder/{id}).
MUTABLE_SPEC_FIELDS = ("displayName", "description")


class Kind(StrEnum):
    """The request kinds, named as in the files."""

    RECORD_DELETE = "RecordDelete"
    PRIVACY_JOB = "PrivacyJob"
    CONSENT_OPT_OUT = "ConsentOptOut"


@dataclass(frozen=True)
class Identity:
    """One identity value of a request and where it is written."""

    namespace: str
    value: str
    path: PathKey


@dataclass(frozen=True, eq=False)
class Request:
    """One declared request: envelope, spec and the document it came from."""

    kind: Kind
    name: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    document: Document

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

    def identities(self) -> Iterator[Identity]:
        """Every identity value the request names, in file order."""
        spec = self.spec
        if self.kind is Kind.RECORD_DELETE:
            for i, item in enumerate(spec.get("identities") or ()):
                yield Identity(
                    item["namespace"]["code"], item["id"], ("spec", "identities", i, "id")
                )
            for i, group in enumerate(spec.get("namespacesIdentities") or ()):
                code = group["namespace"]["code"]
                for j, value in enumerate(group["ids"]):
                    yield Identity(code, value, ("spec", "namespacesIdentities", i, "ids", j))
        elif self.kind is Kind.PRIVACY_JOB:
            for i, user in enumerate(spec["users"]):
                for j, uid in enumerate(user["userIDs"]):
                    path = ("spec", "users", i, "userIDs", j, "value")
                    yield Identity(uid["namespace"], uid["value"], path)
        else:
            for i, entity in enumerate(spec["entities"]):
                for j, value in enumerate(entity["values"]):
                    yield Identity(entity["nameSpace"], value, ("spec", "entities", i, "values", j))

    def identity_count(self) -> int:
        return sum(1 for _ in self.identities())

    def immutable_fields(self) -> dict[str, Any]:
        """What cannot change once applied: kind and spec minus the mutable fields."""
        spec = {k: v for k, v in self.spec.items() if k not in MUTABLE_SPEC_FIELDS}
        return {"kind": self.kind.value, "spec": spec}

    def fingerprint(self, key: bytes) -> str:
        """A keyed hash of the immutable fields: comparable, but reveals no identity."""
        canonical = json.dumps(self.immutable_fields(), sort_keys=True, separators=(",", ":"))
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
