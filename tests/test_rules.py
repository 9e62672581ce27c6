"""Every validation rule: a failing case (file, line, rule id) and a passing case."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.check.validation import validate
from reconciler.settings import load_settings
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, write


def findings_for(root: Path, rel: str, text: str) -> list[tuple[str, int, str]]:
    write(root, rel, text)
    report = validate(load_settings(root))
    return [(f.path, f.line, f.rule) for f in report.findings]


def rd(**changes: str) -> str:
    text = RECORD_DELETE.format(name="req-a")
    for old, new in changes.items():
        text = text.replace(old.replace("_", " "), new)
    return text


CASES = [
    # (id, text, expected line, rule)
    ("file-name", RECORD_DELETE.format(name="other-name"), 4, "name-matches-file"),
    (
        "all-without-opt-in",
        RECORD_DELETE.format(name="req-a").replace(
            "datasetId: c48b51623ec641a2949d339bad69cb15", "datasetId: ALL"
        ),
        6,
        "all-datasets-opt-in",
    ),
    (
        "two-namespaces-one-dataset",
        RECORD_DELETE.format(name="req-a").replace(
            "    - namespace: {code: email}\n      id: b@example.com",
            "    - namespace: {code: ECID}\n      id: '12345678901234567890'",
        ),
        12,
        "single-namespace",
    ),
    (
        "bad-email",
        RECORD_DELETE.format(name="req-a").replace("b@example.com", "not-an-email"),
        13,
        "email-format",
    ),
    (
        "bad-ecid",
        RECORD_DELETE.format(name="req-a")
        .replace("{code: email}", "{code: ECID}")
        .replace("a@example.com", "'12345678901234567890'")
        .replace("b@example.com", "abc"),
        13,
        "ecid-format",
    ),
    (
        "duplicate-identity",
        RECORD_DELETE.format(name="req-a").replace("b@example.com", "A@example.com"),
        13,
        "duplicate-identity",
    ),
    (
        "duplicate-user-key",
        PRIVACY_JOB.format(name="req-a")
        + "    - key: user-1\n      action: [access]\n      userIDs:\n"
        "        - {namespace: email, value: e@example.com, type: standard}\n",
        15,
        "duplicate-user-key",
    ),
    (
        "duplicate-product",
        PRIVACY_JOB.format(name="req-a").replace(
            "[analytics, profileService]", "[analytics, Analytics]"
        ),
        7,
        "duplicate-product",
    ),
    (
        "schema-unknown-field",
        CONSENT.format(name="req-a").replace(
            "  optOutOfSale: true\n", "  optOutOfSale: true\n  x: 1\n"
        ),
        7,
        "schema",
    ),
    (
        "schema-wrong-type",
        CONSENT.format(name="req-a").replace("optOutOfSale: true", "optOutOfSale: 'yes please'"),
        6,
        "schema",
    ),
    (
        "bidi-in-display-name",
        RECORD_DELETE.format(name="req-a").replace(
            "displayName: Example", "displayName: Ex\u202eelpma"
        ),
        7,
        "unsafe-text",
    ),
    (
        "zero-width-in-ticket",
        RECORD_DELETE.format(name="req-a").replace(
            "  name: req-a\n", "  name: req-a\n  ticket: 'T\u200b-1'\n"
        ),
        5,
        "unsafe-text",
    ),
    ("empty", "", 1, "empty-file"),
    ("not-a-mapping", "- a\n- b\n", 1, "schema"),
    ("unknown-kind", "apiVersion: reconciler/v1\nkind: Nope\n", 2, "schema"),
    ("wrong-api-version", "apiVersion: v2\nkind: RecordDelete\n", 1, "schema"),
]


@pytest.mark.parametrize(
    ("text", "line", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_reports_file_line_and_rule(repo: Path, text: str, line: int, rule: str) -> None:
    found = findings_for(repo, "requests/req-a.yaml", text)
    assert ("requests/req-a.yaml", line, rule) in found


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
    assert ("requests/req-a.yaml", 6, "repo-identity-limit") in findings_for(
        repo, "requests/req-a.yaml", _namespaced(4)
    )
    assert findings_for(repo, "requests/req-a.yaml", _namespaced(3)) == []


def test_adobe_limit_over_namespace_groups(repo: Path) -> None:
    # 100,001 identities split over two namespace groups: each group is within the schema's
    # maxItems, only the sum breaks Adobe's per-work-order limit.
    write(repo, "reconciler.yaml", "limits:\n  maxIdentitiesPerRequest: 100000\n")
    group = "".join(f"        - '{i:020d}'\n" for i in range(50_001))
    group2 = "".join(f"        - '{i + 50_001:020d}'\n" for i in range(50_000))
    text = (
        "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: req-a\n"
        "  allowAllDatasets: true\nspec:\n  datasetId: ALL\n  displayName: Bulk\n"
        "  namespacesIdentities:\n    - namespace: {code: ECID}\n      ids:\n"
        + group
        + "    - namespace: {code: GAID}\n      ids:\n"
        + group2
    )
    assert ("requests/req-a.yaml", 7, "identity-limit") in findings_for(
        repo, "requests/req-a.yaml", text
    )


def test_duplicate_names_across_folders(repo: Path) -> None:
    write(repo, "requests/a/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    found = findings_for(repo, "requests/b/req-a.yaml", CONSENT.format(name="req-a"))
    assert [rule for _, _, rule in found] == ["duplicate-name"]
    assert found[0][1] == 4
