"""The JSON Schemas in ``schemas/`` and error messages that never echo values.

jsonschema's own messages repeat the offending value (``'p.anderson@…' is too
long``); identity values must never reach a message, so errors are rewritten
here from the keyword and the schema alone. A schema may carry an
``x-message`` annotation, which editors ignore and we prefer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def _package_data(packaged_name: str, checkout_name: str) -> Path:
    """A folder the wheel carries inside the package, or the checkout's own."""
    packaged = resources.files("reconciler") / packaged_name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / checkout_name


def schema_dir() -> Path:
    """The folder holding the schemas: packaged in a wheel, or the repository's own."""
    return _package_data("_schemas", "schemas")


def examples_dir() -> Path:
    """The example requests (demo, init): packaged in a wheel, or the checkout's own."""
    return _package_data("_examples", "requests")


@cache
def _registry() -> Registry[Any]:
    pairs = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        pairs.append(
            (path.name, Resource.from_contents(contents, default_specification=DRAFT202012))
        )
    return Registry().with_resources(pairs)


def _inline(node: Any, document: str) -> Any:
    """Replace ``$ref``s by their targets: the schemas are not recursive, and resolving
    a reference per array item dominates validation of a 100,000-identity request."""
    if isinstance(node, list):
        return [_inline(n, document) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and "#" in ref:
        target_doc, _, pointer = ref.partition("#")
        target_doc = target_doc or document
        target: Any = _registry().contents(target_doc)
        for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
            target = target[part]
        rest = {k: _inline(v, document) for k, v in node.items() if k != "$ref"}
        return {**_inline(target, target_doc), **rest}
    return {k: _inline(v, document) for k, v in node.items()}


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A compiled validator for one schema file, e.g. ``record-delete.schema.json``."""
    schema = _inline(_registry().contents(schema_name), schema_name)
    return Draft202012Validator(schema, registry=_registry())


@dataclass(frozen=True)
class SchemaError:
    """One schema violation: where (a path into the document) and a safe message."""

    path: tuple[str | int, ...]
    message: str
    at_key: bool = False


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return "the document"
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _describe(error: ValidationError) -> SchemaError:
    path = tuple(error.absolute_path)
    where = _where(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-message")
    kw = error.validator
    value: Any = error.validator_value
    if kw == "required":
        missing = [p for p in value if isinstance(error.instance, dict) and p not in error.instance]
        name = missing[0] if missing else "a property"
        return SchemaError(path, f"{where} is missing required field {name!r}")
    if kw == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        key = extra[0] if extra else "?"
        hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
        return SchemaError((*path, key), f"unknown field {key!r} in {where}{hint}", at_key=True)
    if custom:
        return SchemaError(path, f"{where} {custom}")
    if kw == "type":
        expected = value if isinstance(value, str) else " or ".join(value)
        article = "an" if expected[:1] in "aeiou" else "a"
        return SchemaError(path, f"{where} must be {article} {expected}")
    if kw == "const":
        return SchemaError(path, f"{where} must be {json.dumps(value)}")
    if kw == "enum":
        choices = ", ".join(json.dumps(v) for v in value)
        return SchemaError(path, f"{where} must be one of: {choices}")
    if kw in ("minItems", "maxItems"):
        word = "at least" if kw == "minItems" else "at most"
        return SchemaError(path, f"{where} must have {word} {value:,} item(s)")
    if kw in ("minLength", "maxLength"):
        word = "at least" if kw == "minLength" else "at most"
        return SchemaError(path, f"{where} must be {word} {value:,} character(s) long")
    if kw in ("minProperties", "maxProperties"):
        word = "at least" if kw == "minProperties" else "at most"
        return SchemaError(path, f"{where} must have {word} {value} field(s)")
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": "≥", "maximum": "≤", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return SchemaError(path, f"{where} must be {sign[kw]} {value}")
    if kw == "uniqueItems":
        return SchemaError(path, f"{where} must not list the same item twice")
    if kw == "pattern":
        return SchemaError(path, f"{where} has an invalid format")
    return SchemaError(path, f"{where} is invalid ({kw})")


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    # For oneOf/anyOf without a custom message, report the most relevant branch.
    if (
        error.validator in ("oneOf", "anyOf")
        and error.context
        and "x-message" not in (error.schema if isinstance(error.schema, dict) else {})
    ):
        best = min(error.context, key=lambda e: (-len(e.absolute_path), e.validator == "required"))
        yield from _leaves(best)
    else:
        yield error


def check(schema_name: str, data: Any) -> list[SchemaError]:
    """Validate ``data``; return safe, located errors, in document order."""
    errors: list[SchemaError] = []
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for error in validator(schema_name).iter_errors(data):
        for leaf in _leaves(error):
            described = _describe(leaf)
            key = (described.path, described.message)
            if key not in seen:
                seen.add(key)
                errors.append(described)
    return errors
