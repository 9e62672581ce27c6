"""`reconciler new`: templates and CSV scaffolds that validate, splitting, refusals, masking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.check.validation import discover, load_file, load_requests, validate
from reconciler.model import Request
from reconciler.settings import load_settings
from tests.conftest import RECORD_DELETE, write

DATASET = "c48b51623ec641a2949d339bad69cb15"
EMAILS = [f"subject.{n}@example.com" for n in range(1, 9)]
ECIDS = ["44363657679975868102", "12345678901234567890123456789012345678"]
CSV_COLUMNS = "email,ECID\n" + "".join(
    f"{email},{ECIDS[i] if i < len(ECIDS) else ''}\n" for i, email in enumerate(EMAILS[:4])
)
CSV_PAIRS = "namespace,value\n" + "".join(
    f"{ns},{value}\n"
    for ns, value in [("email", e) for e in EMAILS[:4]] + [("ECID", i) for i in ECIDS]
)
KIND_ARGS = {
    "RecordDelete": ["record-delete", "--dataset", "ALL"],
    "PrivacyJob": ["privacy-job", "--regulation", "gdpr"],
    "ConsentOptOut": ["consent-opt-out"],
}
FOLDERS = {
    "RecordDelete": "record-deletes",
    "PrivacyJob": "privacy-jobs",
    "ConsentOptOut": "consent",
}


# What a person must still do to what `new` wrote, as the rules that refuse it until then.
TEMPLATE = frozenset({"placeholder-identity"})
CONFIRM_ALL = frozenset({"all-datasets-opt-in"})


def requests_in(repo: Path, pending: frozenset[str] = frozenset()) -> dict[str, Request]:
    """Every request under requests/, after asserting that `reconciler validate` finds
    exactly the ``pending`` rules (nothing, once a person has done their part)."""
    settings = load_settings(repo)
    report = validate(settings)
    assert {f.rule for f in report.findings} == set(pending), report.findings
    if not pending:
        loaded = load_requests(discover([settings.requests_path]), settings)
        return {r.name: r for r in loaded.requests}
    found = {}
    for path in discover([settings.requests_path]):
        request, schema_findings = load_file(path, settings.root)
        assert request is not None and not schema_findings, schema_findings
        found[request.name] = request
    return found


def pending_for(kind: str, template: bool) -> frozenset[str]:
    """The rules a file `new` wrote for KIND_ARGS[kind] fails until a person edits it."""
    return (TEMPLATE if template else frozenset()) | (
        CONFIRM_ALL if "ALL" in KIND_ARGS[kind] else frozenset()
    )


def identities(*requests: Request) -> list[tuple[str, str]]:
    return [(i.namespace, i.value) for r in requests for i in r.identities()]


def assert_masked(result, values) -> None:
    """No identity, nor an email's local part, in anything the command printed."""
    text = result.output + (result.stderr or "")
    for value in values:
        assert value not in text
        local = value.partition("@")[0]
        assert len(local) < 2 or local not in text


def new(run, repo: Path, *args: str, input: str | None = None):
    return run("-C", str(repo), "new", *args, input=input)


# -- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KIND_ARGS))
def test_template_of_each_kind_fails_until_edited(run, repo: Path, kind: str) -> None:
    result = new(run, repo, *KIND_ARGS[kind], "--name", "jira-1", "--ticket", "JIRA-1")
    assert result.exit_code == 0, result.output
    path = repo / "requests" / FOLDERS[kind] / "jira-1.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../schemas/request.schema.json\n")
    assert "# PLACEHOLDER: replace" in text
    (request,) = requests_in(repo, pending_for(kind, template=True)).values()
    assert request.kind.value == kind and request.metadata["ticket"] == "JIRA-1"
    assert identities(request) == [("email", "replace-me@example.invalid")]
    assert f"wrote requests/{FOLDERS[kind]}/jira-1.yaml: " in result.output
    assert "edit: replace the placeholder identity" in result.output
    assert "next: open a pull request" in result.output


def test_record_delete_template_for_one_dataset(run, repo: Path) -> None:
    result = new(
        run, repo, "RecordDelete", "--name", "jira-2", "--dataset", DATASET,
        "--display-name", "Jira 2", "--description", "Erasure for Jira 2.", "--namespace", "ECID",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    request = requests_in(repo, TEMPLATE)["jira-2"]
    assert request.spec["datasetId"] == DATASET
    assert request.display_name == "Jira 2" and request.description == "Erasure for Jira 2."
    assert "allowAllDatasets" not in request.metadata
    ((namespace, value),) = identities(request)
    assert namespace == "ECID" and set(value) == {"0"}


def test_privacy_job_defaults(run, repo: Path) -> None:
    assert new(run, repo, "privacy-job", "--name", "p", "--regulation", "CCPA").exit_code == 0
    spec = requests_in(repo, TEMPLATE)["p"].spec
    assert spec["regulation"] == "ccpa"
    assert spec["include"] == ["AdobeCloudPlatform", "identity", "profileService"]
    assert [u["key"] for u in spec["users"]] == ["p-u1"]
    assert spec["users"][0]["action"] == ["delete"]


@pytest.mark.parametrize(
    "text", ["RecordDelete", "record-delete", "RECORD_DELETE", "recorddelete", "Record-Delete"]
)
def test_kind_spellings(run, repo: Path, text: str) -> None:
    result = new(run, repo, text, "--name", "k", "--dataset", "all")
    assert result.exit_code == 0, result.output
    assert requests_in(repo, TEMPLATE | CONFIRM_ALL)["k"].spec["datasetId"] == "ALL"


def test_nested_folder_keeps_the_schema_path_relative(run, repo: Path) -> None:
    result = new(run, repo, "consent-opt-out", "--name", "c", "--dir", "2026/q4")
    assert result.exit_code == 0, result.output
    text = (repo / "requests/2026/q4/c.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../../schemas/request.schema.json")
    requests_in(repo, TEMPLATE)


# -- from a CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [CSV_COLUMNS, CSV_PAIRS], ids=["columns", "pairs"])
@pytest.mark.parametrize("kind", sorted(KIND_ARGS))
def test_each_kind_from_either_csv_shape(run, repo: Path, kind: str, shape: str) -> None:
    write(repo, "ids.csv", shape)
    result = new(run, repo, *KIND_ARGS[kind], "--name", "batch", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    request = requests_in(repo, pending_for(kind, template=False))["batch"]
    expected = [("email", e) for e in EMAILS[:4]] + [("ECID", i) for i in ECIDS]
    assert sorted(identities(request)) == sorted(expected)
    assert "6 identities (email 4, ECID 2)" in result.output
    assert "read 6 identities from ids.csv" in result.output
    assert_masked(result, [*EMAILS, *ECIDS])


def test_privacy_job_users_follow_the_csv_shape(run, repo: Path) -> None:
    write(repo, "rows.csv", CSV_COLUMNS)
    write(repo, "pairs.csv", CSV_PAIRS)
    for name, csv_file in (("rows", "rows.csv"), ("pairs", "pairs.csv")):
        result = new(
            run, repo, "privacy-job", "--name", name, "--regulation", "gdpr", "--csv", csv_file,
            "--action", "access", "--action", "delete", "--include", "analytics,target",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    found = requests_in(repo)
    rows, pairs = found["rows"].spec, found["pairs"].spec
    # One user per row: a row's cells are one person's identities.
    assert [len(u["userIDs"]) for u in rows["users"]] == [2, 2, 1, 1]
    assert [u["key"] for u in rows["users"]] == ["rows-u1", "rows-u2", "rows-u3", "rows-u4"]
    # One user per value in the namespace,value shape.
    assert len(pairs["users"]) == 6
    assert all(u["action"] == ["access", "delete"] for u in rows["users"] + pairs["users"])
    assert all(uid["type"] == "standard" for u in rows["users"] for uid in u["userIDs"])
    assert rows["include"] == ["analytics", "target"]


def test_bom_crlf_blank_lines_whitespace_and_semicolons(run, repo: Path) -> None:
    text = "\r\n".join(
        ["Email ; ECID", "", f"  {EMAILS[0]} ; {ECIDS[0]} ", "   ", f"{EMAILS[1]};", ";;", ""]
    )
    (repo / "ids.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = new(run, repo, "consent-opt-out", "--name", "bom", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    assert sorted(identities(requests_in(repo)["bom"])) == sorted(
        [("Email", EMAILS[0]), ("Email", EMAILS[1]), ("ECID", ECIDS[0])]
    )


def test_utf16_from_excel(run, repo: Path) -> None:
    (repo / "ids.csv").write_bytes(f"email\t\n{EMAILS[0]}\t\n".encode("utf-16"))
    result = new(run, repo, "consent-opt-out", "--name", "u16", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    assert identities(requests_in(repo)["u16"]) == [("email", EMAILS[0])]


def test_number_like_values_stay_strings_in_any_yaml_reader(run, repo: Path) -> None:
    values = ["0012", "1e3", "1_000", "0x1F", "true", "12:30", "+.5"]
    write(repo, "ids.csv", "loyalty\n" + "\n".join(values) + "\n")
    result = new(run, repo, "record-delete", "--name", "n", "--dataset", "abc", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    text = (repo / "requests/record-deletes/n.yaml").read_text(encoding="utf-8")
    for value in values:
        assert f'- "{value}"' in text
    assert identities(requests_in(repo)["n"]) == [("loyalty", v) for v in values]
    assert yaml.safe_load(text)["spec"]["namespacesIdentities"][0]["ids"] == values


def test_duplicates_are_dropped_and_counted(run, repo: Path) -> None:
    rows = [EMAILS[0], EMAILS[0].upper(), EMAILS[1], f" {EMAILS[1]} ", EMAILS[2]]
    write(repo, "ids.csv", "email\n" + "\n".join(rows) + "\n")
    result = new(run, repo, "consent-opt-out", "--name", "d", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    assert identities(requests_in(repo)["d"]) == [("email", e) for e in EMAILS[:3]]
    assert "read 5 identities from ids.csv; dropped 2 duplicate identities" in result.output
    assert_masked(result, EMAILS)


def test_privacy_job_repeated_rows_dropped_partly_repeated_refused(run, repo: Path) -> None:
    row = f"{EMAILS[0]},{ECIDS[0]}"
    write(repo, "same.csv", f"email,ECID\n{row}\n{row}\n{EMAILS[1]},\n")
    result = new(
        run, repo, "privacy-job", "--name", "s", "--regulation", "gdpr", "--csv", "same.csv"
    )
    assert result.exit_code == 0, result.output
    assert len(requests_in(repo)["s"].spec["users"]) == 2
    assert "dropped 1 duplicate user" in result.output
    write(repo, "partly.csv", f"email,ECID\n{row}\n{EMAILS[0]},{ECIDS[1]}\n")
    result = new(
        run, repo, "privacy-job", "--name", "t", "--regulation", "gdpr", "--csv", "partly.csv"
    )
    assert result.exit_code == 1
    assert "partly.csv:3: s***@example.com also belongs to the user on line 2" in result.stderr
    assert not (repo / "requests/privacy-jobs/t.yaml").exists()
    assert_masked(result, [*EMAILS, *ECIDS])


BAD_ROWS = [
    (f"{EMAILS[0]},{ECIDS[0]}", None),
    ("not-an-email,", "3: n***l is not a well-formed email address"),
    (f"{EMAILS[1]},12ab", "4: *** is not a well-formed ECID (up to 38 digits)"),
    (f"{EMAILS[2]},{ECIDS[1]},extra", "5: 3 cells, but the header names 2 namespaces"),
    (
        '"secret\nperson@example.com",',
        "6: s***@example.com contains a control character or line break",
    ),
]


def test_bad_rows_are_all_located_masked_and_nothing_is_written(run, repo: Path) -> None:
    write(repo, "ids.csv", "email,ECID\n" + "\n".join(r for r, _ in BAD_ROWS) + "\n")
    result = new(run, repo, "record-delete", "--name", "b", "--dataset", "ALL", "--csv", "ids.csv")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:-1] == [f"error: ids.csv:{m}" for _, m in BAD_ROWS if m]
    assert lines[-1] == "nothing written: fix the rows above and run again"
    assert not (repo / "requests/record-deletes").exists()
    assert_masked(result, [*EMAILS, *ECIDS, "not-an-email", "secret", "12ab"])


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param(
            f"{EMAILS[0]}\n",
            "ids.csv:1: header column 1: 's***@example.com' is not a namespace code",
            id="no-header",
        ),  # fmt: skip
        pytest.param(
            "email,Email\nx@example.com,\n",
            "header column 2: 'Email' is named twice",
            id="repeated-namespace",
        ),  # fmt: skip
        pytest.param("namespace,value\nemail\n", "ids.csv:2: expected 2 cells", id="short-pair"),
        pytest.param(
            f"namespace,value\n{EMAILS[0]},email\n",
            "ids.csv:2: 's***@example.com' is "
            "not a namespace code (the columns are namespace,value)",
            id="swapped",
        ),  # fmt: skip
        pytest.param("email\n\n\n", "ids.csv:1: no rows after the header", id="header-only"),
        pytest.param("", "ids.csv:1: nothing in it", id="empty"),
        pytest.param('email\n"unterminated\n', "cannot read the CSV", id="bad-quoting"),
    ],
)
def test_malformed_csv(run, repo: Path, text: str, message: str) -> None:
    write(repo, "ids.csv", text)
    result = new(run, repo, "consent-opt-out", "--name", "m", "--csv", "ids.csv")
    assert result.exit_code == 1
    assert message in result.stderr
    assert_masked(result, EMAILS)


def test_not_utf8(run, repo: Path) -> None:
    (repo / "ids.csv").write_bytes(b"email\nj\xe9r\xf4me@example.com\n")
    result = new(run, repo, "consent-opt-out", "--name", "m", "--csv", "ids.csv")
    assert result.exit_code == 1
    assert "ids.csv:2: not UTF-8 text; save the file as CSV UTF-8" in result.stderr


def test_missing_csv_file(run, repo: Path) -> None:
    result = new(run, repo, "consent-opt-out", "--name", "m", "--csv", "nope.csv")
    assert result.exit_code == 1
    assert "cannot read nope.csv" in result.stderr


def test_csv_from_stdin(run, repo: Path) -> None:
    result = new(run, repo, "consent-opt-out", "--name", "in", "--csv", "-", input=CSV_PAIRS)
    assert result.exit_code == 0, result.output
    assert "read 6 identities from <stdin>" in result.output
    assert len(identities(requests_in(repo)["in"])) == 6


# -- one dataset, one namespace --------------------------------------------------------------


def test_several_namespaces_for_one_dataset_refused(run, repo: Path) -> None:
    write(repo, "ids.csv", CSV_COLUMNS)
    result = new(
        run, repo, "record-delete", "--name", "x", "--dataset", DATASET, "--csv", "ids.csv"
    )
    assert result.exit_code == 1
    assert "ids.csv holds identities in 2 namespaces (email, ECID)" in result.stderr
    assert "--namespace NS" in result.stderr and "--dataset ALL" in result.stderr
    assert not (repo / "requests/record-deletes").exists()
    assert_masked(result, [*EMAILS, *ECIDS])


def test_one_file_per_namespace_with_namespace(run, repo: Path) -> None:
    write(repo, "ids.csv", CSV_COLUMNS)
    for ns in ("email", "ECID"):
        result = new(
            run, repo, "record-delete", "--name", f"x-{ns.lower()}", "--dataset", DATASET,
            "--csv", "ids.csv", "--namespace", ns,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    found = requests_in(repo)
    assert identities(found["x-email"]) == [("email", e) for e in EMAILS[:4]]
    assert identities(found["x-ecid"]) == [("ECID", i) for i in ECIDS]
    result = new(
        run, repo, "record-delete", "--name", "y", "--dataset", DATASET, "--csv", "ids.csv",
        "--namespace", "Phone",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no identities in namespace 'Phone'; it has: ECID, email" in result.stderr


def test_dataset_all_must_be_confirmed_by_a_person(run, repo: Path) -> None:
    write(repo, "ids.csv", CSV_COLUMNS)
    result = new(
        run, repo, "record-delete", "--name", "all", "--dataset", "ALL", "--csv", "ids.csv"
    )
    assert result.exit_code == 0, result.output
    request = requests_in(repo, CONFIRM_ALL)["all"]
    assert request.spec["datasetId"] == "ALL" and "allowAllDatasets" not in request.metadata
    path = repo / request.path
    text = path.read_text(encoding="utf-8")
    assert "EVERY dataset in the sandbox" in text
    assert "add `allowAllDatasets: true` under metadata" in text
    # The person types the opt-in; then it validates.
    path.write_text(text.replace("  name: all\n", "  name: all\n  allowAllDatasets: true\n"))
    assert requests_in(repo)["all"].metadata["allowAllDatasets"] is True
    groups = request.spec["namespacesIdentities"]
    assert [g["namespace"]["code"] for g in groups] == ["email", "ECID"]


# -- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KIND_ARGS))
def test_split_at_the_repository_limit(run, repo: Path, kind: str) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 3}\n")
    write(repo, "ids.csv", "email\n" + "\n".join(EMAILS) + "\n")
    result = new(
        run, repo, *KIND_ARGS[kind], "--name", "big", "--csv", "ids.csv", "--ticket", "T-1"
    )
    assert result.exit_code == 0, result.output
    found = requests_in(repo, pending_for(kind, template=False))
    assert sorted(found) == ["big-1", "big-2", "big-3"]
    parts = [found[f"big-{n}"] for n in (1, 2, 3)]
    assert [len(identities(p)) for p in parts] == [3, 3, 2]
    # Together they hold every identity exactly once, in the CSV's order.
    assert identities(*parts) == [("email", e) for e in EMAILS]
    assert all(p.metadata["ticket"] == "T-1" for p in parts)
    assert "split into 3 requests: at most 3 identities per request" in result.output
    for n in (1, 2, 3):
        assert f"wrote requests/{FOLDERS[kind]}/big-{n}.yaml" in result.output
    if kind == "RecordDelete":
        assert parts[1].display_name == "T-1 (part 2 of 3)"
    if kind == "PrivacyJob":
        keys = [u["key"] for p in parts for u in p.spec["users"]]
        assert keys == [f"big-u{n}" for n in range(1, 9)]
    assert_masked(result, EMAILS)


def test_privacy_job_users_are_never_cut_in_half(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 3}\n")
    write(repo, "ids.csv", CSV_COLUMNS)  # users of 2, 2, 1 and 1 identities
    result = new(
        run, repo, "privacy-job", "--name", "p", "--regulation", "gdpr", "--csv", "ids.csv"
    )
    assert result.exit_code == 0, result.output
    found = requests_in(repo)
    assert [len(found[f"p-{n}"].spec["users"]) for n in (1, 2, 3)] == [1, 2, 1]
    write(repo, "wide.csv", "a,b,c,d\n1x,2x,3x,4x\n")
    result = new(
        run, repo, "privacy-job", "--name", "w", "--regulation", "gdpr", "--csv", "wide.csv"
    )
    assert result.exit_code == 1
    assert "wide.csv:2: this user has 4 identities" in result.stderr


def test_adobe_limits_split_without_a_repository_limit(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 100000}\n")
    write(repo, "ids.csv", "email\n" + "".join(f"s{n}@example.com\n" for n in range(1001)))
    result = new(
        run, repo, "privacy-job", "--name", "p", "--regulation", "gdpr", "--csv", "ids.csv"
    )
    assert result.exit_code == 0, result.output
    result = new(run, repo, "consent-opt-out", "--name", "c", "--csv", "ids.csv")
    assert result.exit_code == 0, result.output
    found = requests_in(repo)
    assert [len(found[f"p-{n}"].spec["users"]) for n in (1, 2)] == [1000, 1]
    assert [len(identities(found[f"c-{n}"])) for n in (1, 2)] == [1000, 1]
    assert "1,000 users per job" in result.output or "1,000 per namespace" in result.output


def test_name_too_long_to_number_the_parts(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 3}\n")
    write(repo, "ids.csv", "email\n" + "\n".join(EMAILS) + "\n")
    name = "n" * 62
    result = new(run, repo, "consent-opt-out", "--name", name, "--csv", "ids.csv")
    assert result.exit_code == 2
    assert "--name is too long to number 3 requests: use at most 61 characters" in result.stderr
    assert new(run, repo, "consent-opt-out", "--name", name[:61], "--csv", "ids.csv").exit_code == 0
    assert len(requests_in(repo)) == 3


# -- existing files and names ----------------------------------------------------------------


def test_never_overwrites_without_force(run, repo: Path) -> None:
    args = ("consent-opt-out", "--name", "c", "--csv", "ids.csv")
    write(repo, "ids.csv", "email\n" + EMAILS[0] + "\n")
    assert new(run, repo, *args).exit_code == 0
    path = repo / "requests/consent/c.yaml"
    before = path.read_text(encoding="utf-8")
    write(repo, "ids.csv", "email\n" + EMAILS[1] + "\n")
    result = new(run, repo, *args)
    assert result.exit_code == 1
    assert "requests/consent/c.yaml already exists; pick another --name, or pass --force" in (
        result.stderr
    )
    assert path.read_text(encoding="utf-8") == before
    result = new(run, repo, *args, "--force")
    assert result.exit_code == 0, result.output
    assert identities(requests_in(repo)["c"]) == [("email", EMAILS[1])]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_force_reports_parts_of_an_earlier_run_left_behind(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 3}\n")
    write(repo, "ids.csv", "email\n" + "\n".join(EMAILS) + "\n")
    assert new(run, repo, "consent-opt-out", "--name", "c", "--csv", "ids.csv").exit_code == 0
    write(repo, "ids.csv", "email\n" + "\n".join(EMAILS[:5]) + "\n")
    result = new(run, repo, "consent-opt-out", "--name", "c", "--csv", "ids.csv", "--force")
    assert result.exit_code == 0, result.output
    assert "note: requests/consent/c-3.yaml from an earlier run was left as is" in result.output


def test_a_name_used_anywhere_is_refused_even_with_force(run, repo: Path) -> None:
    write(repo, "requests/elsewhere/taken.yaml", RECORD_DELETE.format(name="taken"))
    result = new(run, repo, "record-delete", "--name", "taken", "--dataset", "ALL", "--force")
    assert result.exit_code == 1
    assert "name 'taken' is already used by requests/elsewhere/taken.yaml" in result.stderr
    assert not (repo / "requests/record-deletes").exists()


def test_a_name_in_the_ledger_is_never_reused(run, repo: Path) -> None:
    write(repo, "ledger/gone.json", "{}\n")
    result = new(run, repo, "record-delete", "--name", "gone", "--dataset", "ALL", "--force")
    assert result.exit_code == 1
    assert "name 'gone' was applied before (ledger/gone.json); names are never reused" in (
        result.stderr
    )


def test_split_parts_checked_against_existing_names(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: {maxIdentitiesPerRequest: 3}\n")
    write(repo, "requests/old/c-2.yaml", RECORD_DELETE.format(name="c-2"))
    write(repo, "ids.csv", "email\n" + "\n".join(EMAILS) + "\n")
    result = new(run, repo, "consent-opt-out", "--name", "c", "--csv", "ids.csv")
    assert result.exit_code == 1
    assert "name 'c-2' is already used by requests/old/c-2.yaml" in result.stderr
    assert not (repo / "requests/consent").exists()


# -- usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["frobnicate", "--name", "a"], "unknown kind 'frobnicate'", id="kind"),
        pytest.param(
            ["record-delete", "--name", "a"], "RecordDelete needs --dataset", id="dataset"
        ),
        pytest.param(
            ["record-delete", "--name", "a", "--dataset", "a/b"],
            "--dataset must be",
            id="bad-dataset",
        ),  # fmt: skip
        pytest.param(["privacy-job", "--name", "a"], "PrivacyJob needs --regulation", id="reg"),
        pytest.param(
            ["privacy-job", "--name", "a", "--regulation", "hipaa"],
            "--regulation must be one of",
            id="bad-reg",
        ),  # fmt: skip
        pytest.param(
            ["privacy-job", "--name", "a", "--regulation", "gdpr", "--include", "x"],
            "--include 'x' is not a product code",
            id="product",
        ),  # fmt: skip
        pytest.param(
            [
                "privacy-job",
                "--name",
                "a",
                "--regulation",
                "gdpr",
                "--include",
                "analytics,Analytics",
            ],
            "names a product twice",
            id="product-twice",
        ),  # fmt: skip
        pytest.param(
            ["consent-opt-out", "--name", "a", "--dataset", "ALL"],
            "--dataset applies to RecordDelete requests only",
            id="wrong-kind",
        ),  # fmt: skip
        pytest.param(
            ["consent-opt-out", "--name", "a", "--action", "access"],
            "--action applies to PrivacyJob requests only",
            id="wrong-kind-2",
        ),  # fmt: skip
        pytest.param(
            ["consent-opt-out", "--name", "Bad_Name"], "--name 'Bad_Name' must be", id="name"
        ),  # fmt: skip
        pytest.param(
            ["consent-opt-out", "--name", "a", "--dir", "../out"], "--dir must be", id="dir"
        ),  # fmt: skip
        pytest.param(
            ["consent-opt-out", "--name", "a", "--namespace", "e mail"],
            "--namespace must be",
            id="namespace",
        ),  # fmt: skip
        pytest.param(["consent-opt-out"], "Missing option '--name'", id="no-name"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    run, repo: Path, args: list[str], message: str
) -> None:
    result = new(run, repo, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert list((repo / "requests").iterdir()) == []


def test_cleartext_policy_is_honoured(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "policy: {allowCleartextIdentities: false}\n")
    write(repo, "ids.csv", CSV_PAIRS)
    result = new(run, repo, "consent-opt-out", "--name", "c", "--csv", "ids.csv")
    assert result.exit_code == 1
    assert "requires encrypted identities" in result.stderr


def test_help_has_an_example(run) -> None:
    result = run("new", "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "reconciler new record-delete --name jira-12345" in result.output
    assert "AdobeCloudPlatform, identity, profileService" in " ".join(result.output.split())


def test_as_a_subprocess_from_stdin(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(repo), "new", "record-delete",
         "--name", "sub", "--dataset", DATASET, "--csv", "-"],
        input="email\n" + "".join(f"{e}\n" for e in EMAILS[:3]),
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "read 3 identities from <stdin>",
        "wrote requests/record-deletes/sub.yaml: 3 identities (email)",
        "next: open a pull request; `reconciler validate` checks it",
    ]
    assert identities(requests_in(repo)["sub"]) == [("email", e) for e in EMAILS[:3]]


def test_privacy_job_user_of_more_than_nine_identities_refused(run, repo: Path) -> None:
    header = ",".join(f"ns{n}" for n in range(10))
    write(repo, "ids.csv", f"{header}\n" + ",".join(f"v{n}x" for n in range(10)) + "\n")
    result = new(
        run, repo, "privacy-job", "--name", "p", "--regulation", "gdpr", "--csv", "ids.csv"
    )
    assert result.exit_code == 1
    assert "ids.csv:2: a user has at most 9 identities" in result.stderr


def test_an_unedited_template_is_refused_saying_what_to_fill_in(run, repo: Path) -> None:
    assert new(run, repo, "record-delete", "--name", "t", "--dataset", DATASET).exit_code == 0
    checked = run("-C", str(repo), "validate")
    assert checked.exit_code == 1
    (line,) = [ln for ln in checked.output.splitlines() if "placeholder-identity" in ln]
    assert line.startswith("requests/record-deletes/t.yaml:")
    assert "is a placeholder, not an identity: replace it" in line
    assert "replace-me@" not in checked.output  # masked like any identity
    plan = run("-C", str(repo), "plan", "--offline")
    assert plan.exit_code == 1 and "nothing was planned or sent" in plan.output
