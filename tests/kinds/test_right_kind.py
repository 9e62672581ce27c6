"""The right kind for the job: a data subject's request is a PrivacyJob.

Adobe's workorder guide says record deletes are for data cleansing, anonymous data
and minimisation, not for data subject rights requests; those go through Privacy
Service. A RecordDelete (or a DatasetExpiration) carrying the fields of a data
subject's request gets a warning that says so, on the field's line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.kinds import Kind
from reconciler.schemas import examples_dir
from reconciler.yamlfile import load_document
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, write
from tests.ledger_helpers import record_applied

ROOT = Path(__file__).resolve().parents[2]

EXPIRATION = """\
apiVersion: reconciler/v1
kind: DatasetExpiration
metadata:
  name: {name}
spec:
  datasetId: 3e9f815ae1194c65b2a4c5ea
  expiry: "2030-12-31"
  displayName: Retention
"""
EXTENSION = """\
  extension:
    until: 2027-02-20
    reason: Several requests from the same person.
    notifiedAt: 2026-12-10
"""
WHY_RECORD_DELETE = (
    "a RecordDelete is for data cleansing, anonymous data and minimisation "
    "(Adobe: record deletes are not for data subject rights requests)"
)
WHY_EXPIRATION = (
    "a DatasetExpiration deletes a whole dataset on a date (retention), "
    "not a data subject's records"
)


def with_metadata(text: str, lines: str) -> str:
    """``text`` with ``lines`` added under ``metadata`` (after its name)."""
    name_line = next(line for line in text.splitlines(keepends=True) if "  name: " in line)
    return text.replace(name_line, name_line + lines, 1)


def warning(path: str, line: int, field: str, why: str, rule: str) -> str:
    return (
        f"{path}:{line}:3: warning: metadata.{field} marks a data subject's request, but "
        f"{why}, and no deadline is tracked for it: file the request as a PrivacyJob "
        "(Privacy Service: users with action access or delete under its regulation, e.g. "
        f"gdpr or ccpa), where receivedAt sets the deadline, or remove {field} ({rule})"
    )


@pytest.mark.parametrize(
    ("template", "lines", "expected"),
    [
        pytest.param(
            RECORD_DELETE,
            "  receivedAt: 2026-11-20\n",
            [
                warning(
                    "requests/req-a.yaml",
                    5,
                    "receivedAt",
                    WHY_RECORD_DELETE,
                    "record-delete-for-data-subject",
                )
            ],
            id="record-delete-received-at",
        ),
        pytest.param(
            RECORD_DELETE,
            "  ticket: DSR-7\n" + EXTENSION,
            [
                warning(
                    "requests/req-a.yaml",
                    6,
                    "extension",
                    WHY_RECORD_DELETE,
                    "record-delete-for-data-subject",
                )
            ],
            id="record-delete-extension",
        ),
        pytest.param(
            RECORD_DELETE,
            "  receivedAt: 2026-11-20\n" + EXTENSION,
            # One warning for the request, at the day it was received.
            [
                warning(
                    "requests/req-a.yaml",
                    5,
                    "receivedAt",
                    WHY_RECORD_DELETE,
                    "record-delete-for-data-subject",
                )
            ],
            id="record-delete-both-fields",
        ),
        pytest.param(
            EXPIRATION,
            "  receivedAt: 2026-11-20\n",
            [
                warning(
                    "requests/req-a.yaml",
                    5,
                    "receivedAt",
                    WHY_EXPIRATION,
                    "expiration-for-data-subject",
                )
            ],
            id="dataset-expiration-received-at",
        ),
    ],
)
def test_a_data_subjects_fields_on_a_cleansing_kind_warn(
    run, repo: Path, template: str, lines: str, expected: list[str]
) -> None:
    write(repo, "requests/req-a.yaml", with_metadata(template.format(name="req-a"), lines))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 0, result.output  # a warning: existing repositories validate
    assert result.output.splitlines() == [*expected, "1 file(s) valid"]


@pytest.mark.parametrize(
    ("template", "lines"),
    [
        pytest.param(PRIVACY_JOB, "  receivedAt: 2026-11-20\n" + EXTENSION, id="privacy-job"),
        pytest.param(CONSENT, "  receivedAt: 2026-11-20\n", id="consent-opt-out"),
        pytest.param(RECORD_DELETE, "  ticket: CLEAN-1\n", id="record-delete-cleansing"),
        # A retry is not a data subject's field: a failed cleansing is retried too.
        pytest.param(RECORD_DELETE, "  retryOf: req-old\n", id="record-delete-retry"),
        pytest.param(EXPIRATION, "  ticket: RS-4\n", id="dataset-expiration"),
    ],
)
def test_no_warning_where_the_kind_fits(run, repo: Path, template: str, lines: str) -> None:
    if "retryOf" in lines:  # what it retries: an applied request Adobe failed
        failed = {"value": "failed", "observedAt": "2026-11-01T00:00:00Z"}
        record_applied(repo, "req-old", "requests/req-old.yaml", status=failed)
    write(repo, "requests/req-a.yaml", with_metadata(template.format(name="req-a"), lines))
    result = run("-C", str(repo), "validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["1 file(s) valid"]


def test_the_warning_in_the_machine_formats(run, repo: Path) -> None:
    text = with_metadata(RECORD_DELETE.format(name="req-a"), "  receivedAt: 2026-11-20\n")
    write(repo, "requests/req-a.yaml", text)
    result = run("-C", str(repo), "validate", "--format", "json")
    doc = json.loads(result.output)
    assert (doc["valid"], doc["errors"], doc["warnings"]) == (True, 0, 1)
    (finding,) = doc["findings"]
    assert {k: finding[k] for k in ("line", "column", "severity", "rule")} == {
        "line": 5,
        "column": 3,
        "severity": "warning",
        "rule": "record-delete-for-data-subject",
    }
    github = run("-C", str(repo), "validate", "--format", "github")
    assert github.output.startswith(
        "::warning file=requests/req-a.yaml,line=5,col=3,title=record-delete-for-data-subject::"
    )


def test_the_warning_never_names_an_identity(run, repo: Path) -> None:
    text = with_metadata(RECORD_DELETE.format(name="req-a"), "  receivedAt: 2026-11-20\n")
    write(repo, "requests/req-a.yaml", text)
    result = run("-C", str(repo), "validate")
    assert "a@example.com" not in result.output and "b@example.com" not in result.output


def _examples() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(examples_dir().rglob("*.yaml")):
        data = load_document(path, path.name).data
        found.append((path.relative_to(examples_dir()).as_posix(), data))
    return found


def test_the_examples_file_data_subjects_requests_as_privacy_jobs() -> None:
    examples = _examples()
    by_kind: dict[str, list[dict]] = {}
    for _, data in examples:
        by_kind.setdefault(data["kind"], []).append(data)
    # Every access and erasure request of the examples is a PrivacyJob with its receipt day.
    jobs = by_kind["PrivacyJob"]
    actions = {a for job in jobs for user in job["spec"]["users"] for a in user["action"]}
    assert actions == {"access", "delete"}
    assert all("receivedAt" in job["metadata"] for job in jobs)
    # The kinds that answer no data subject carry none of a data subject's fields.
    for rel, data in examples:
        kind = Kind(data["kind"])
        if kind.deadline_period(data["spec"]) is None:
            assert not {"receivedAt", "extension"} & set(data["metadata"]), rel


def test_the_record_delete_examples_are_cleansing(run) -> None:
    for rel, data in _examples():
        if data["kind"] != "RecordDelete":
            continue
        said = " ".join(
            str(data[part].get(key, ""))
            for part, key in (("metadata", "ticket"), ("spec", "displayName"))
        )
        said += " " + str(data["spec"].get("description", ""))
        assert not re.search(r"\b(gdpr|ccpa|erasure|dsr)\b", said.lower()), rel
    result = run("-C", str(ROOT), "validate")
    assert result.exit_code == 0, result.output
    assert "for-data-subject" not in result.output


def test_new_record_delete_says_what_it_is_for(run, repo: Path) -> None:
    args = ("new", "record-delete", "--name", "clean-1", "--dataset", "c48b51623ec641a2")
    result = run("-C", str(repo), *args)
    assert result.exit_code == 0, result.output
    text = (repo / "requests/record-deletes/clean-1.yaml").read_text(encoding="utf-8")
    assert (
        "# A record delete is for data cleansing, anonymous data and minimisation:\n"
        "# a data subject's access or erasure request is a PrivacyJob instead\n"
        "# (`reconciler new privacy-job --regulation gdpr …`), as Adobe says.\n"
    ) in text
