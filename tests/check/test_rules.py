"""Every validation rule: a failing case (its exact findings: file, rule id, line, column)
and a passing case."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.check.validation import validate
from reconciler.settings import load_settings
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, write


def findings_for(root: Path, rel: str, text: str) -> list[tuple[str, str, int, int]]:
    """Every finding for the repository with ``text`` at ``rel``, sorted:
    (path, rule, line, column)."""
    write(root, rel, text)
    report = validate(load_settings(root))
    return sorted((f.path, f.rule, f.line, f.column) for f in report.findings)


def rd(**changes: str) -> str:
    text = RECORD_DELETE.format(name="req-a")
    for old, new in changes.items():
        text = text.replace(old.replace("_", " "), new)
    return text


CASES = [
    # (id, text, every finding expected as (rule, line, column))
    ("file-name", RECORD_DELETE.format(name="other-name"), {("name-matches-file", 4, 9)}),
    (
        "all-without-opt-in",
        RECORD_DELETE.format(name="req-a").replace(
            "datasetId: c48b51623ec641a2949d339bad69cb15", "datasetId: ALL"
        ),
        {("all-datasets-opt-in", 6, 14)},
    ),
    (
        "two-namespaces-one-dataset",
        RECORD_DELETE.format(name="req-a").replace(
            "    - namespace: {code: email}\n      id: b@example.com",
            "    - namespace: {code: ECID}\n      id: '12345678901234567890'",
        ),
        {("single-namespace", 12, 25)},
    ),
    (
        "bad-email",
        RECORD_DELETE.format(name="req-a").replace("b@example.com", "not-an-email"),
        {("email-format", 13, 11)},
    ),
    (
        "bad-ecid",
        RECORD_DELETE.format(name="req-a")
        .replace("{code: email}", "{code: ECID}")
        .replace("a@example.com", "'12345678901234567890'")
        .replace("b@example.com", "abc"),
        {("ecid-format", 13, 11)},
    ),
    (
        "duplicate-identity",
        RECORD_DELETE.format(name="req-a").replace("b@example.com", "A@example.com"),
        {("duplicate-identity", 13, 11)},
    ),
    (
        "duplicate-user-key",
        PRIVACY_JOB.format(name="req-a")
        + "    - key: user-1\n      action: [access]\n      userIDs:\n"
        "        - {namespace: email, value: e@example.com, type: standard}\n",
        {("duplicate-user-key", 15, 12)},
    ),
    (
        "duplicate-product",
        PRIVACY_JOB.format(name="req-a").replace(
            "[analytics, profileService]", "[analytics, Analytics]"
        ),
        {("duplicate-product", 7, 24)},
    ),
    (
        "schema-unknown-field",
        CONSENT.format(name="req-a").replace(
            "  optOutOfSale: true\n", "  optOutOfSale: true\n  x: 1\n"
        ),
        {("schema", 7, 3)},
    ),
    (
        "schema-wrong-type",
        CONSENT.format(name="req-a").replace("optOutOfSale: true", "optOutOfSale: 'yes please'"),
        {("schema", 6, 17)},
    ),
    (
        "bidi-in-display-name",
        RECORD_DELETE.format(name="req-a").replace(
            "displayName: Example", "displayName: Ex\u202eelpma"
        ),
        {("unsafe-text", 7, 16)},
    ),
    (
        "zero-width-in-ticket",
        RECORD_DELETE.format(name="req-a").replace(
            "  name: req-a\n", "  name: req-a\n  ticket: 'T\u200b-1'\n"
        ),
        {("unsafe-text", 5, 11)},
    ),
    ("empty", "", {("empty-file", 1, 1)}),
    ("not-a-mapping", "- a\n- b\n", {("schema", 1, 1)}),
    ("unknown-kind", "apiVersion: reconciler/v1\nkind: Nope\n", {("schema", 2, 7)}),
    ("wrong-api-version", "apiVersion: v2\nkind: RecordDelete\n", {("schema", 1, 13)}),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_reports_file_line_and_rule(
    repo: Path, text: str, expected: set[tuple[str, int, int]]
) -> None:
    found = findings_for(repo, "requests/req-a.yaml", text)
    # Exactly these: a finding too many (another rule, a second report) fails too.
    assert found == sorted(("requests/req-a.yaml", *f) for f in expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(RECORD_DELETE.format(name="req-a"), id="record-delete"),
        pytest.param(
            RECORD_DELETE.format(name="req-a")
            .replace("datasetId: c48b51623ec641a2949d339bad69cb15", "datasetId: ALL")
            .replace("  name: req-a\n", "  name: req-a\n  allowAllDatasets: true\n")
            .replace(
                "    - namespace: {code: email}\n      id: b@example.com",
                "    - namespace: {code: ECID}\n      id: '12345678901234567890'",
            ),
            id="all-datasets-opted-in-mixed-namespaces",
        ),
        pytest.param(PRIVACY_JOB.format(name="req-a"), id="privacy-job"),
        pytest.param(CONSENT.format(name="req-a"), id="consent"),
    ],
)
def test_valid_requests_pass_every_rule(repo: Path, text: str) -> None:
    assert findings_for(repo, "requests/req-a.yaml", text) == []


def _namespaced(count: int) -> str:
    ids = "".join(f"        - u{i}@example.com\n" for i in range(count))
    return (
        "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: req-a\nspec:\n"
        "  datasetId: c48b51623ec641a2949d339bad69cb15\n  displayName: Bulk\n"
        "  namespacesIdentities:\n    - namespace: {code: email}\n      ids:\n" + ids
    )


def test_repository_limit_from_settings(repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits:\n  maxIdentitiesPerRequest: 3\n")
    assert findings_for(repo, "requests/req-a.yaml", _namespaced(4)) == [
        ("requests/req-a.yaml", "repo-identity-limit", 6, 3)
    ]
    assert findings_for(repo, "requests/req-a.yaml", _namespaced(3)) == []


def test_adobe_limit_over_namespace_groups(repo: Path) -> None:
    # 100,001 identities split over two namespace groups: each group is within the schema's
    # maxItems, only the sum breaks Adobe's per-work-order limit.
    write(repo, "reconciler.yaml", "limits:\n  maxIdentitiesPerRequest: 100000\n")
    group = "".join(f"        - '{i + 1:020d}'\n" for i in range(50_001))
    group2 = "".join(f"        - '{i + 50_002:020d}'\n" for i in range(50_000))
    text = (
        "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: req-a\n"
        "  allowAllDatasets: true\nspec:\n  datasetId: ALL\n  displayName: Bulk\n"
        "  namespacesIdentities:\n    - namespace: {code: ECID}\n      ids:\n"
        + group
        + "    - namespace: {code: GAID}\n      ids:\n"
        + group2
    )
    assert findings_for(repo, "requests/req-a.yaml", text) == [
        ("requests/req-a.yaml", "identity-limit", 7, 3)
    ]


def test_duplicate_names_across_folders(repo: Path) -> None:
    write(repo, "requests/a/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    found = findings_for(repo, "requests/b/req-a.yaml", CONSENT.format(name="req-a"))
    assert found == [("requests/b/req-a.yaml", "duplicate-name", 4, 9)]
