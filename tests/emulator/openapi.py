"""Adobe's OpenAPI specs, read from ``<repo>/../shared/adobe-openapi``, for conformance checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO.parent / "shared" / "adobe-openapi"
SEED_DIR = REPO.parent / "shared" / "seeds"

# Base path of each spec on the gateway (servers in data-hygiene.yaml carry no base path).
BASES = {"data-hygiene.yaml": "/data/core/hygiene", "privacy-service.yaml": "/data/core/privacy"}


@dataclass(frozen=True)
class Operation:
    spec_name: str
    method: str
    template: str  # full gateway path, e.g. /data/core/hygiene/workorder/{WORKORDER_ID}
    operation: dict[str, Any]
    pattern: re.Pattern[str]


class Specs:
    """Both specs with ``$ref`` resolution and a lookup from a real request to its operation."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.registry: Registry[Any] = Registry()
        self.operations: list[Operation] = []
        for name, base in BASES.items():
            document = yaml.safe_load((spec_dir / name).read_text(encoding="utf-8"))
            self.documents[name] = document
            resource = Resource.from_contents(document, default_specification=DRAFT4)
            self.registry = self.registry.with_resource(f"urn:{name}", resource)
            for path, item in document["paths"].items():
                for method, operation in item.items():
                    template = base + path
                    regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                    self.operations.append(
                        Operation(
                            name, method.upper(), template, operation, re.compile(f"{regex}/?$")
                        )
                    )

    def find(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method and operation.pattern.match(path):
                return operation
        return None

    def resolve(self, spec_name: str, node: Any) -> Any:
        """Follow a ``$ref`` (one level) inside ``spec_name``."""
        if isinstance(node, dict) and "$ref" in node:
            resolver = self.registry.resolver(base_uri=f"urn:{spec_name}")
            return resolver.lookup(node["$ref"]).contents
        return node

    def response_schema(self, operation: Operation, status: int) -> tuple[bool, Any]:
        """(documented?, schema or None for "no body")."""
        responses = operation.operation.get("responses", {})
        response = responses.get(str(status))
        if response is None:
            return False, None
        content = self.resolve(operation.spec_name, response).get("content") or {}
        media = content.get("application/json")
        if media is None or "schema" not in media:
            return True, None
        schema = media["schema"]
        if "$ref" in schema:
            schema = {"$ref": f"urn:{operation.spec_name}{schema['$ref']}"}
        return True, schema

    def validator(self, schema: Any, *, formats: bool) -> OAS30ReadValidator:
        return OAS30ReadValidator(
            schema,
            registry=self.registry,
            format_checker=oas30_format_checker if formats else None,
        )


def specs_or_reason(spec_dir: Path = SPEC_DIR) -> tuple[Specs | None, str]:
    """The specs, or None and why not (naming the missing folder): the reason to skip."""
    if not spec_dir.is_dir():
        return None, (
            f"Adobe's OpenAPI specs are missing: no folder {spec_dir}, so responses cannot be "
            "checked against them"
        )
    return Specs(spec_dir), ""
