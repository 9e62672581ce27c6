"""Identity values, namespaces and dataset ids that pass for valid but are not: each is one
located finding through `reconciler validate`, and no identity value is ever printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.secrets.masking import mask
from tests.conftest import CONSENT, PRIVACY_JOB, write

HEAD = "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: req-a\n"


def record_delete(*identities: tuple[str, str], dataset: str = "c48b51623ec641a2949d339bad69cb15"):
    """A RecordDelete whose identities are written as given (YAML scalars, quotes included),
    the first one's value on line 10, column 11, its namespace code on line 9, column 25."""
    lines = [HEAD, f"spec:\n  datasetId: {dataset}\n  displayName: Example\n  identities:\n"]
    for code, value in identities:
        lines.append(f"    - namespace: {{code: {code}}}\n      id: {value}\n")
    return "".join(lines)


def validate(run, repo: Path, text: str, name: str = "req-a"):
    write(repo, f"requests/{name}.yaml", text)
    return run("-C", str(repo), "validate")


def first_line(result) -> str:
    return result.output.splitlines()[0]


# (id, YAML scalar of the value, expected finding, the secret that must not be printed)
VALUES = [
    pytest.param(
        '"poul.secret@example.com\\n"',
        "requests/req-a.yaml:10:11: error: p***@example.com… ends with whitespace, U+000A "
        "(a line break); remove it (a YAML block scalar `|` keeps its last line break: "
        "write the value on one line) (identity-whitespace)",
        "poul.secret",
        id="trailing-newline-quoted",
    ),
    pytest.param(
        '" poul.secret@example.com"',
        "requests/req-a.yaml:10:11: error: ?***@example.com starts with whitespace, U+0020 "
        "(SPACE); remove it (identity-whitespace)",
        "poul.secret",
        id="leading-space",
    ),
    pytest.param(
        '"poul.secret@example.com\\u00a0"',
        "requests/req-a.yaml:10:11: error: p***@example.com… ends with whitespace, U+00A0 "
        "(NO-BREAK SPACE); remove it (identity-whitespace)",
        "poul.secret",
        id="trailing-nbsp",
    ),
    pytest.param(
        '"\\u3000poul.secret@example.com"',
        "requests/req-a.yaml:10:11: error: ?***@example.com starts with whitespace, U+3000 "
        "(IDEOGRAPHIC SPACE); remove it (identity-whitespace)",
        "poul.secret",
        id="leading-ideographic-space",
    ),
    pytest.param(
        '"poul.secret\\u200b@example.com"',
        "requests/req-a.yaml:10:11: error: p***@example.com contains the invisible or control "
        "character U+200B (ZERO WIDTH SPACE), which Adobe would match as part of the identity; "
        "remove it (identity-invisible)",
        "poul.secret",
        id="zero-width-space",
    ),
    pytest.param(
        '"\\ufeffpoul.secret@example.com"',
        "requests/req-a.yaml:10:11: error: ?***@example.com contains the invisible or control "
        "character U+FEFF (ZERO WIDTH NO-BREAK SPACE), which Adobe would match as part of the "
        "identity; remove it (identity-invisible)",
        "poul.secret",
        id="byte-order-mark",
    ),
    pytest.param(
        '"poul.secret@exam\\u202eple.com"',
        "requests/req-a.yaml:10:11: error: p***@exam… contains the invisible or control "
        "character U+202E (RIGHT-TO-LEFT OVERRIDE), which Adobe would match as part of the "
        "identity; remove it (identity-invisible)",
        "poul.secret",
        id="bidi-override",
    ),
    pytest.param(
        '"poul.secret\\x01@example.com"',
        "requests/req-a.yaml:10:11: error: p***@example.com contains the invisible or control "
        "character U+0001, which Adobe would match as part of the identity; remove it "
        "(identity-invisible)",
        "poul.secret",
        id="c0-control",
    ),
    pytest.param(
        '"poul.secret\\x9b@example.com"',
        "requests/req-a.yaml:10:11: error: p***@example.com contains the invisible or control "
        "character U+009B, which Adobe would match as part of the identity; remove it "
        "(identity-invisible)",
        "poul.secret",
        id="c1-control",
    ),
    pytest.param(
        '"   "',
        "requests/req-a.yaml:10:11: error: identity value is only whitespace; write the "
        "identity or remove the entry (identity-blank)",
        "   ",
        id="whitespace-only",
    ),
    pytest.param(
        '"mailto:poul.secret@example.com"',
        "requests/req-a.yaml:10:11: error: m***@example.com starts with 'mailto:'; write the "
        "address alone (email-paste)",
        "poul.secret",
        id="mailto",
    ),
    pytest.param(
        '"<poul.secret@example.com>"',
        "requests/req-a.yaml:10:11: error: <***@example.com… holds a name, quotes or <…> "
        "around the address; write the address alone (email-paste)",
        "poul.secret",
        id="angle-brackets",
    ),
    pytest.param(
        "'\"Poul Secret\" <poul.secret@example.com>'",
        'requests/req-a.yaml:10:11: error: "***@example.com… holds a name, quotes or <…> '
        "around the address; write the address alone (email-paste)",
        "Secret",
        id="display-name",
    ),
    pytest.param(
        '"poul.secret@example.com,"',
        "requests/req-a.yaml:10:11: error: p***@example.com… ends with ','; "
        "remove it (email-paste)",
        "poul.secret",
        id="trailing-comma",
    ),
    pytest.param(
        '"poul.secret@example.com;"',
        "requests/req-a.yaml:10:11: error: p***@example.com… ends with ';'; "
        "remove it (email-paste)",
        "poul.secret",
        id="trailing-semicolon",
    ),
    pytest.param(
        "poul.secret@example.com.",
        "requests/req-a.yaml:10:11: error: p***@example.com. ends with '.'; "
        "remove it (email-paste)",
        "poul.secret",
        id="trailing-dot",
    ),
    pytest.param(
        "poul.secret@example.com Poul Secret 1926-11-25",
        "requests/req-a.yaml:10:11: error: p***@example.com… holds a space; write the address "
        "alone, without a name or other text (email-paste)",
        "1926",
        id="text-after-the-address",
    ),
]


@pytest.mark.parametrize(("value", "expected", "secret"), VALUES)
def test_an_identity_value_that_is_not_canonical_is_one_located_finding(
    run, repo: Path, value: str, expected: str, secret: str
) -> None:
    result = validate(run, repo, record_delete(("email", value)))
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected, "1 error(s) in 1 of 1 file(s)"]
    assert secret not in result.output
    assert "Traceback" not in result.output


def test_a_block_scalar_keeps_a_line_break_that_is_refused(run, repo: Path) -> None:
    text = record_delete(("email", "|\n        poul.secret@example.com"))
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert first_line(result).startswith(
        "requests/req-a.yaml:10:11: error: p***@example.com… ends with whitespace, U+000A"
    )
    assert first_line(result).endswith("(identity-whitespace)")
    assert "poul.secret" not in result.output


def test_an_ecid_with_a_trailing_line_break_is_refused(run, repo: Path) -> None:
    result = validate(run, repo, record_delete(("ECID", '"12345678901234567890\\n"')))
    assert result.exit_code == 1
    assert first_line(result) == (
        "requests/req-a.yaml:10:11: error: 1***? ends with whitespace, U+000A (a line break); "
        "remove it (a YAML block scalar `|` keeps its last line break: write the value on one "
        "line) (identity-whitespace)"
    )
    assert "12345678901234567890" not in result.output


def test_the_same_values_in_every_kind(run, repo: Path) -> None:
    text = (
        "apiVersion: reconciler/v1\nkind: PrivacyJob\nmetadata:\n  name: req-a\nspec:\n"
        "  regulation: gdpr\n  include: [analytics]\n  users:\n"
        "    - key: user-1\n      action: [delete]\n      userIDs:\n"
        '        - {namespace: email, value: "poul.secret@example.com\\u200b", type: standard}\n'
    )
    result = validate(run, repo, text)
    assert first_line(result) == (
        "requests/req-a.yaml:12:37: error: p***@example.com… contains the invisible or control "
        "character U+200B (ZERO WIDTH SPACE), which Adobe would match as part of the identity; "
        "remove it (identity-invisible)"
    )
    consent = (
        "apiVersion: reconciler/v1\nkind: ConsentOptOut\nmetadata:\n  name: req-b\nspec:\n"
        "  optOutOfSale: true\n  entities:\n    - nameSpace: email\n"
        "      values: ['mailto:poul.secret@example.com']\n"
    )
    result = validate(run, repo, consent, name="req-b")
    assert (
        "requests/req-b.yaml:9:16: error: m***@example.com starts with 'mailto:'; write the "
        "address alone (email-paste)"
    ) in result.output.splitlines()
    assert "poul.secret" not in result.output


def test_well_formed_values_pass(run, repo: Path) -> None:
    text = record_delete(
        ("email", "poul.anderson@example.com"),
        ("email", "o'brien+tag@example.co.uk"),
        ("email", "jérôme@bücher.example"),
    )
    result = validate(run, repo, text)
    assert result.exit_code == 0, result.output


# -- patterns match the whole value ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "datasetId: c48b51623ec641a2949d339bad69cb15",
            'datasetId: "c48b51623ec641a2949d339bad69cb15\\n"',
            "requests/req-a.yaml:6:14: error: spec.datasetId must be a dataset id (letters and "
            "digits) or ALL; it ends with whitespace, U+000A (a line break): remove it (schema)",
            id="dataset-id",
        ),
        pytest.param(
            "{code: email}",
            '{code: "email\\n"}',
            "requests/req-a.yaml:9:25: error: spec.identities[0].namespace.code must be a "
            "namespace code of letters, digits, '_', '.' or '-' (no spaces), e.g. email or ECID; "
            "it ends with whitespace, U+000A (a line break): remove it, and write 'email' (schema)",
            id="namespace",
        ),
        pytest.param(
            "{code: email}",
            '{code: " email"}',
            "requests/req-a.yaml:9:25: error: spec.identities[0].namespace.code must be a "
            "namespace code of letters, digits, '_', '.' or '-' (no spaces), e.g. email or ECID; "
            "it starts with whitespace, U+0020 (SPACE): remove it, and write 'email' (schema)",
            id="namespace-leading-space",
        ),
        pytest.param(
            "{code: email}",
            '{code: "email\\u200b"}',
            "requests/req-a.yaml:9:25: error: spec.identities[0].namespace.code must be a "
            "namespace code of letters, digits, '_', '.' or '-' (no spaces), e.g. email or ECID; "
            "it contains the invisible or control character U+200B (ZERO WIDTH SPACE): remove "
            "it, and write 'email' (schema)",
            id="namespace-zero-width",
        ),
        pytest.param(
            "name: req-a",
            'name: "req-a\\n"',
            "requests/req-a.yaml:4:9: error: metadata.name must be 1-63 lower-case letters, "
            "digits and hyphens, starting and ending with a letter or digit; it ends with "
            "whitespace, U+000A (a line break): remove it (schema)",
            id="name",
        ),
    ],
)
def test_a_trailing_line_break_never_passes_a_pattern(
    run, repo: Path, old: str, new: str, expected: str
) -> None:
    text = record_delete(("email", "poul.secret@example.com"))
    assert old in text
    result = validate(run, repo, text.replace(old, new, 1))
    assert result.exit_code == 1
    assert first_line(result) == expected
    assert "poul.secret" not in result.output


def test_an_encrypted_value_with_a_trailing_line_break_is_refused(run, repo: Path) -> None:
    result = validate(run, repo, record_delete(("email", '"ENC[age:YWJjZA==]\\n"')))
    assert result.exit_code == 1
    assert first_line(result) == (
        "requests/req-a.yaml:10:11: error: spec.identities[0].id must read ENC[age:BASE64] "
        "(standard base64 of an age ciphertext, at most 16,384 characters); encrypt values with "
        "`reconciler encrypt`; it ends with whitespace, U+000A (a line break): remove it (schema)"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "key: user-1",
            'key: "user-1\\n"',
            "requests/req-a.yaml:9:12: error: spec.users[0].key must be letters, digits, '_', "
            "'.', ':' or '-' (a reference, not personal data); it ends with whitespace, U+000A "
            "(a line break): remove it (schema)",
            id="user-key",
        ),
    ],
)
def test_a_trailing_line_break_in_a_privacy_job(run, repo, old, new, expected) -> None:
    text = (
        "apiVersion: reconciler/v1\nkind: PrivacyJob\nmetadata:\n  name: req-a\nspec:\n"
        "  regulation: gdpr\n  include: [analytics]\n  users:\n"
        "    - key: user-1\n      action: [delete]\n      userIDs:\n"
        "        - {namespace: email, value: poul.secret@example.com, type: standard}\n"
    )
    result = validate(run, repo, text.replace(old, new))
    assert result.exit_code == 1
    assert first_line(result) == expected


def test_an_expiry_with_a_trailing_line_break(run, repo: Path) -> None:
    text = (
        "apiVersion: reconciler/v1\nkind: DatasetExpiration\nmetadata:\n  name: req-a\nspec:\n"
        '  datasetId: c48b51623ec641a2949d339bad69cb15\n  expiry: "2099-06-30\\n"\n'
        "  displayName: Example\n"
    )
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert first_line(result) == (
        "requests/req-a.yaml:7:11: error: spec.expiry must be an ISO 8601 date (2027-06-30) or "
        "date-time with an offset (2027-06-30T12:00:00Z), quoted; it ends with whitespace, "
        "U+000A (a line break): remove it (schema)"
    )


# -- ALL is ALL ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["all", "All", "aLL"])
def test_all_datasets_in_another_case_is_refused(run, repo: Path, spelling: str) -> None:
    text = record_delete(("email", "poul.secret@example.com"), dataset=spelling)
    text = text.replace("  name: req-a\n", "  name: req-a\n  allowAllDatasets: true\n")
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"requests/req-a.yaml:7:14: error: datasetId '{spelling}' is not ALL: only ALL in "
        "capitals means every dataset (with metadata.allowAllDatasets: true); write ALL or "
        "name one dataset (all-datasets-case)",
        "1 error(s) in 1 of 1 file(s)",
    ]


def test_all_in_capitals_with_the_opt_in_passes(run, repo: Path) -> None:
    text = record_delete(("email", "poul.secret@example.com"), dataset="ALL")
    text = text.replace("  name: req-a\n", "  name: req-a\n  allowAllDatasets: true\n")
    result = validate(run, repo, text)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("spelling", ["ALL", "all"])
def test_a_dataset_expiration_names_one_dataset(run, repo: Path, spelling: str) -> None:
    text = (
        "apiVersion: reconciler/v1\nkind: DatasetExpiration\nmetadata:\n  name: req-a\nspec:\n"
        f'  datasetId: {spelling}\n  expiry: "2099-06-30"\n  displayName: Example\n'
    )
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert first_line(result) == (
        f"requests/req-a.yaml:6:14: error: datasetId '{spelling}' names no dataset: a dataset "
        "expiration acts on one dataset; write its id (all-datasets-case)"
    )


# -- standard namespaces as Adobe spells them ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "canonical"),
    [("EMAIL", "email"), ("eMail", "email"), ("PHONE", "phone"), ("ecid", "ECID")],
)
def test_a_standard_namespace_in_another_case_is_refused(
    run, repo: Path, code: str, canonical: str
) -> None:
    value = "'12345678901234567890'" if canonical == "ECID" else "poul.secret@example.com"
    result = validate(run, repo, record_delete((code, value)))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"requests/req-a.yaml:9:25: error: namespace '{code}' is the standard namespace "
        f"'{canonical}' in another case, which may match no identity at Adobe; write "
        f"'{canonical}' (namespace-case)",
        "1 error(s) in 1 of 1 file(s)",
    ]


def test_a_group_in_another_case_is_one_finding(run, repo: Path) -> None:
    text = (
        HEAD + "spec:\n  datasetId: ALL\n  displayName: Example\n  namespacesIdentities:\n"
        "    - namespace: {code: EMAIL}\n      ids: [a.secret@example.com, b.secret@example.com]\n"
    ).replace("  name: req-a\n", "  name: req-a\n  allowAllDatasets: true\n")
    result = validate(run, repo, text)
    assert result.output.splitlines() == [
        "requests/req-a.yaml:10:25: error: namespace 'EMAIL' is the standard namespace 'email' "
        "in another case, which may match no identity at Adobe; write 'email' (namespace-case)",
        "1 error(s) in 1 of 1 file(s)",
    ]


def test_documented_spellings_and_custom_namespaces_pass(run, repo: Path) -> None:
    # `Email` and `Phone` are the Privacy Service appendix's spellings; a PrivacyJob's custom
    # namespace is the organisation's own word, whatever its case.
    write(repo, "requests/req-a.yaml", record_delete(("Email", "poul.secret@example.com")))
    text = (
        "apiVersion: reconciler/v1\nkind: PrivacyJob\nmetadata:\n  name: req-b\nspec:\n"
        "  regulation: gdpr\n  include: [analytics]\n  users:\n"
        "    - key: user-1\n      action: [delete]\n      userIDs:\n"
        "        - {namespace: EMAIL, value: poul.secret@example.com, type: custom}\n"
        "        - {namespace: Phone, value: '+4512345678', type: standard}\n"
        "        - {namespace: loyaltyAccount, value: L-123, type: custom}\n"
    )
    result = validate(run, repo, text, name="req-b")
    assert result.exit_code == 0, result.output


def test_a_csv_header_in_capitals_is_written_as_adobe_spells_it(run, repo: Path) -> None:
    write(repo, "ids.csv", "EMAIL,Ecid\npoul.secret@example.com,12345678901234567890\n")
    result = run(
        "-C", str(repo), "new", "record-delete", "--name", "from-csv", "--dataset", "ALL",
        "--csv", "ids.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((repo / "requests/record-deletes/from-csv.yaml").read_text())
    codes = [g["namespace"]["code"] for g in written["spec"]["namespacesIdentities"]]
    assert codes == ["email", "ECID"]


def test_a_csv_pair_in_capitals_is_written_as_adobe_spells_it(run, repo: Path) -> None:
    write(repo, "ids.csv", "namespace,value\nEMAIL,poul.secret@example.com\n")
    result = run("-C", str(repo), "new", "consent-opt-out", "--name", "pairs", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((repo / "requests/consent/pairs.yaml").read_text())
    assert [e["nameSpace"] for e in written["spec"]["entities"]] == ["email"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param(
            "mailto:poul.secret@example.com",
            "ids.csv:2: m***@example.com starts with 'mailto:'; write the address alone",
            id="mailto",
        ),
        pytest.param(
            "poul.secret\u200b@example.com",
            "ids.csv:2: p***@example.com contains the invisible or control character U+200B "
            "(ZERO WIDTH SPACE), which Adobe would match as part of the identity; remove it",
            id="zero-width",
        ),
        pytest.param(
            '"poul.secret@example.com;"',
            "ids.csv:2: p***@example.com… ends with ';'; remove it",
            id="trailing-semicolon",
        ),
    ],
)
def test_a_csv_row_is_refused_as_validate_would(run, repo: Path, row: str, message: str) -> None:
    write(repo, "ids.csv", f"email\n{row}\n")
    result = run("-C", str(repo), "new", "consent-opt-out", "--name", "m", "--csv", "ids.csv")
    assert result.exit_code == 1
    assert f"error: {message}" in result.stderr.splitlines()
    assert "poul.secret" not in result.output + result.stderr
    assert not (repo / "requests/consent").exists()


# -- YAML types where text is expected -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        pytest.param(
            "no",
            "YAML reads an unquoted yes, no, on, off, true or false as a boolean: quote the value",
            id="boolean",
        ),
        pytest.param(
            "12345678901234567890",
            "YAML reads unquoted digits as a number: quote the value",
            id="int",
        ),
    ],
)
def test_an_unquoted_value_read_as_another_type(run, repo: Path, value: str, hint: str) -> None:
    result = validate(run, repo, record_delete(("ECID", value)))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "requests/req-a.yaml:10:11: error: spec.identities[0].id must be a string; "
        f"{hint} (schema)",
        "1 error(s) in 1 of 1 file(s)",
    ]
    assert value == "no" or value not in result.output


@pytest.mark.parametrize(
    ("old", "where"),
    [("displayName: Example", "spec.displayName"), ("id: a@example.com", "spec.identities[0].id")],
)
def test_an_unquoted_boolean_where_text_goes(run, repo: Path, old: str, where: str) -> None:
    field = old.partition(":")[0]
    text = record_delete(("email", "a@example.com")).replace(old, f"{field}: off")
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert first_line(result).endswith(
        f"error: {where} must be a string; YAML reads an unquoted yes, no, on, off, true "
        "or false as a boolean: quote the value (schema)"
    )


# -- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # The documented forms, kept.
        ("poul.anderson@example.com", "p***@example.com"),
        ("not-an-email", "n***l"),
        ("12ab", "***"),
        # Never what follows an email's domain, never more than its first character.
        ("poul@example.com Poul Anderson 1926-11-25", "p***@example.com…"),
        ('"Poul Anderson" <poul@example.com>', '"***@example.com…'),
        ("poul@example.com\n", "p***@example.com…"),
        ("\u202epoul@example.com", "?***@example.com"),
        ("poul@" + "d" * 80 + ".com", "p***@" + "d" * 64 + "…"),
    ],
)
def test_mask(value: str, shown: str) -> None:
    assert mask(value) == shown


# -- fields only `reconciler import` writes --------------------------------------------------

EXPIRATION = (
    "apiVersion: reconciler/v1\nkind: DatasetExpiration\nmetadata:\n  name: {name}\nspec:\n"
    '  datasetId: c48b51623ec641a2949d339bad69cb15\n  expiry: "2099-06-30"\n'
    "  displayName: Example\n"
)


@pytest.mark.parametrize(
    ("template", "kind"),
    [(PRIVACY_JOB, "PrivacyJob"), (CONSENT, "ConsentOptOut"), (EXPIRATION, "DatasetExpiration")],
)
@pytest.mark.parametrize("flag", ["true", "false"])
def test_imported_is_refused_where_import_does_not_apply(
    run, repo: Path, template: str, kind: str, flag: str
) -> None:
    text = template.format(name="req-a").replace(
        "  name: req-a\n", f"  name: req-a\n  imported: {flag}\n"
    )
    result = validate(run, repo, text)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "requests/req-a.yaml:5:13: error: metadata.imported is written only by `reconciler "
        f"import`, for RecordDelete work orders; a {kind} is never imported: remove it (schema)",
        "1 error(s) in 1 of 1 file(s)",
    ]


def test_an_imported_record_delete_is_still_valid(run, repo: Path) -> None:
    text = (
        HEAD.replace("  name: req-a\n", "  name: req-a\n  imported: true\n")
        + "spec:\n  datasetId: c48b51623ec641a2949d339bad69cb15\n  displayName: Example\n"
    )
    result = validate(run, repo, text)
    assert result.exit_code == 0, result.output
