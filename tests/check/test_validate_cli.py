"""`reconciler validate` end to end: formats, exit codes, hostile files, masking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.check.validation import validate
from reconciler.settings import load_settings
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, write

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary.person@example.com"


def bad_email_repo(repo: Path) -> Path:
    text = RECORD_DELETE.format(name="req-a").replace("b@example.com", "canary.person@@x")
    write(repo, "requests/req-a.yaml", text)
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    return repo


def test_examples_in_the_repository_are_valid(run) -> None:
    result = run("-C", str(ROOT), "validate")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("file(s) valid")


def test_text_format(run, repo: Path) -> None:
    result = run("-C", str(bad_email_repo(repo)), "validate")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == (
        "requests/req-a.yaml:13:11: error: c***@x is not a well-formed email address (email-format)"
    )
    assert lines[-1] == "1 error(s) in 1 of 2 file(s)"


def test_github_format_annotates_the_line(run, repo: Path) -> None:
    result = run("-C", str(bad_email_repo(repo)), "validate", "--format", "github")
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith(
        "::error file=requests/req-a.yaml,line=13,col=11,title=email-format::"
    )


def test_json_format_is_the_documented_shape(run, repo: Path) -> None:
    result = run("-C", str(bad_email_repo(repo)), "validate", "--format", "json")
    doc = json.loads(result.output)
    assert doc["version"] == 1 and doc["valid"] is False
    assert doc["filesChecked"] == 2 and doc["errors"] == 1
    assert doc["findings"] == [
        {
            "path": "requests/req-a.yaml",
            "line": 13,
            "column": 11,
            "severity": "error",
            "rule": "email-format",
            "message": "c***@x is not a well-formed email address",
        }
    ]


def test_sarif_format(run, repo: Path) -> None:
    result = run("-C", str(bad_email_repo(repo)), "validate", "--format", "sarif")
    doc = json.loads(result.output)
    assert doc["version"] == "2.1.0"
    (res,) = doc["runs"][0]["results"]
    assert res["ruleId"] == "email-format"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "requests/req-a.yaml"
    assert loc["region"] == {"startLine": 13, "startColumn": 11}


def test_explicit_paths_and_usage_errors(run, repo: Path) -> None:
    bad_email_repo(repo)
    assert run("-C", str(repo), "validate", "requests/req-b.yaml").exit_code == 0
    assert run("-C", str(repo), "validate", "requests/missing.yaml").exit_code == 2
    assert run("-C", str(repo), "validate", "--format", "xml").exit_code == 2


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_identities_never_appear_in_any_format(run, repo: Path, fmt: str) -> None:
    # Every identity of this file breaks a rule or the schema.
    text = (
        PRIVACY_JOB.format(name="req-a").replace("c@example.com", CANARY)
        + "    - key: user-2\n      action: [delete]\n      userIDs:\n"
        f"        - {{namespace: email, value: '{CANARY}', type: standard}}\n"
        "        - {namespace: ECID, value: 'canary-ecid', type: standard}\n"
        f"        - {{namespace: email, value: '{'canary' * 300}', type: standard}}\n"
    )
    write(repo, "requests/req-a.yaml", text)
    result = run("-C", str(repo), "validate", "--format", fmt)
    assert result.exit_code == 1
    assert "canary" not in result.output.lower()


HOSTILE = [
    (
        "duplicate-keys",
        "apiVersion: reconciler/v1\napiVersion: reconciler/v1\n",
        "yaml-duplicate-key",
    ),
    ("alias-bomb", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "yaml-alias"),
    ("python-tag", "a: !!python/object/apply:os.system ['true']\n", "yaml-tag"),
    ("tabs", "apiVersion: reconciler/v1\n\tkind: RecordDelete\n", "yaml-syntax"),
    ("deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", "yaml-too-deep"),
    (
        "wrong-types",
        "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata: []\nspec: 7\n",
        "schema",
    ),
    ("path-like-name", RECORD_DELETE.format(name="../../etc/passwd"), "schema"),
    ("empty-name", RECORD_DELETE.format(name="''"), "schema"),
    ("git-ref-name", RECORD_DELETE.format(name="refs/heads/main"), "schema"),
]


@pytest.mark.parametrize(("text", "rule"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_files_give_one_located_line_each(run, repo: Path, text: str, rule: str) -> None:
    write(repo, "requests/req-a.yaml", text)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("requests/req-a.yaml:") and first.endswith(f"({rule})")
    assert "Traceback" not in result.output


def test_hostile_bytes(run, repo: Path) -> None:
    (repo / "requests/utf.yaml").write_bytes(b"apiVersion: reconciler/v1\nkind: \xff\xfe\n")
    (repo / "requests/big.yaml").write_bytes(b"a: '" + b"x" * (10 * 1024 * 1024) + b"'\n")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert "requests/utf.yaml:2:7: error:" in result.output
    assert "(yaml-encoding)" in result.output
    assert "requests/big.yaml:1:1: error:" in result.output
    assert "(yaml-too-large)" in result.output


def test_too_many_identities(run, repo: Path) -> None:
    ids = "".join(f"        - u{i}@example.com\n" for i in range(100_001))
    text = (
        "apiVersion: reconciler/v1\nkind: RecordDelete\nmetadata:\n  name: req-a\nspec:\n"
        "  datasetId: c48b51623ec641a2949d339bad69cb15\n  displayName: Bulk\n"
        "  namespacesIdentities:\n    - namespace: {code: email}\n      ids:\n" + ids
    )
    write(repo, "requests/req-a.yaml", text)
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "requests/req-a.yaml:11:9: error: spec.namespacesIdentities[0].ids must have at most "
        "100,000 item(s) (schema)"
    )


def test_console_script_as_a_subprocess(repo: Path) -> None:
    bad_email_repo(repo)
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(repo), "validate"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "(email-format)" in proc.stdout
    assert proc.stderr == ""


def test_settings_error_is_one_line_exit_1(run, repo: Path) -> None:
    write(repo, "reconciler.yaml", "limits: 5\n")
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 1
    assert result.output.startswith("error: reconciler.yaml:1:9: limits must be an object")


YAMLISH = st.text(alphabet=st.sampled_from(list("abkindspec:-_ \n[]{}'\"#&*!|>0@.")), max_size=120)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=YAMLISH)
def test_arbitrary_text_never_crashes_the_validator(repo: Path, body: str) -> None:
    for prefix in ("", "apiVersion: reconciler/v1\nkind: RecordDelete\n"):
        write(repo, "requests/req-a.yaml", prefix + body)
        report = validate(load_settings(repo))
        assert all(f.line >= 1 for f in report.findings)
