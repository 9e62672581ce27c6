"""The JSON Schemas: well-formed, the examples pass, messages never echo values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.kinds import Kind
from reconciler.schemas import check, schema_dir, validator
from reconciler.yamlfile import load_document

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "requests").rglob("*.yaml"))


@pytest.mark.parametrize("path", sorted(schema_dir().glob("*.json")), ids=lambda p: p.name)
def test_schemas_are_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_kind_has_an_example() -> None:
    kinds = {load_document(p).data["kind"] for p in EXAMPLES}
    assert kinds == {"RecordDelete", "PrivacyJob", "ConsentOptOut", "DatasetExpiration"}
    assert kinds == set(Kind.names())


def test_every_kind_names_its_schema_in_the_editor_schema_and_the_ledger_schema() -> None:
    editor = json.loads((schema_dir() / "request.schema.json").read_text())
    ledger = json.loads((schema_dir() / "ledger-entry.schema.json").read_text())
    for kind in Kind:
        assert (schema_dir() / kind.schema).is_file()
        assert kind.value in editor["properties"]["kind"]["enum"]
        assert kind.value in ledger["properties"]["kind"]["enum"]
        assert {
            "if": {"properties": {"kind": {"const": kind.value}}, "required": ["kind"]},
            "then": {"$ref": kind.schema},
        } in editor["allOf"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_their_kind_schema_and_the_editor_schema(path: Path) -> None:
    data = load_document(path).data
    assert check(Kind(data["kind"]).schema, data) == []
    assert check("request.schema.json", data) == []
    assert path.read_text().startswith("# yaml-language-server: $schema=")


def test_editor_schema_rejects_what_the_kind_schema_rejects() -> None:
    data = load_document(EXAMPLES[0]).data
    data["spec"]["unexpected"] = 1
    assert not validator("request.schema.json").is_valid(data)


def test_seed_example_is_the_documented_payload() -> None:
    seed = load_document(ROOT / "requests/record-deletes/jira-12345.yaml").data["spec"]
    assert seed["datasetId"] == "c48b51623ec641a2949d339bad69cb15"
    assert [i["namespace"]["code"] for i in seed["identities"]] == ["email"] * 3


def test_messages_never_echo_the_offending_value() -> None:
    secret = "p.anderson.canary@example.com" * 50  # too long for an identity value
    data = load_document(ROOT / "requests/record-deletes/jira-12345.yaml").data
    data["spec"]["identities"][0]["id"] = secret
    data["spec"]["datasetId"] = secret
    data["metadata"]["name"] = secret
    errors = check("record-delete.schema.json", data)
    assert len(errors) >= 3
    assert all("canary" not in e.message for e in errors)
