"""The rules on reconciler.yaml and on the ledger, on documents and files given directly.

The scenarios through git and the command line are in tests/git/test_review_scenarios.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from reconciler.check.findings import Severity
from reconciler.check.ledgerrules import applied_twins, ledger_changes
from reconciler.check.settingsrules import endpoint_findings, endpoint_problem, settings_changes
from reconciler.kinds import Kind
from reconciler.reconcile.ledger import Entry, Fingerprint
from reconciler.yamlfile import parse_document
from tests.conftest import CONSENT, PRIVACY_JOB, RECORD_DELETE, request_from
from tests.ledger_helpers import entry_document

# -- endpoints ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://ims-na1.adobelogin.com", id="ims"),
        pytest.param("https://platform.adobe.io", id="platform"),
        pytest.param("https://platform-eu.adobe.io/", id="a-subdomain"),
        pytest.param("https://experience.adobe.com/x?y=1", id="adobe-com-with-a-path"),
        pytest.param("https://PLATFORM.Adobe.IO.", id="case-and-a-final-dot"),
    ],
)
def test_adobe_endpoints_are_trusted(url: str) -> None:
    assert endpoint_problem(url) is None


@pytest.mark.parametrize(
    ("url", "start"),
    [
        pytest.param(
            "https://ims.evil.example", "its host ims.evil.example is outside", id="other"
        ),
        pytest.param("https://evil-adobe.io", "its host evil-adobe.io is outside", id="suffix"),
        pytest.param(
            "https://adobe.io.evil.example", "its host adobe.io.evil.example is", id="prefix"
        ),
        pytest.param(
            "https://platform.adobe.io@evil.example/", "its host evil.example is", id="userinfo"
        ),
        pytest.param("http://127.0.0.1:8080", "its host 127.0.0.1 is this machine", id="ipv4"),
        pytest.param("http://127.9.9.9", "its host 127.9.9.9 is this machine", id="loopback-net"),
        pytest.param("http://[::1]:9000", "its host ::1 is this machine", id="ipv6"),
        pytest.param("http://localhost:9000", "its host localhost is this machine", id="name"),
        pytest.param("http://api.localhost", "its host api.localhost is this", id="localhost-sub"),
        pytest.param("http://platform.adobe.io", "it is http, not https", id="cleartext"),
        pytest.param("https://", "it names no host", id="no-host"),
        pytest.param("https://[::1", "it is not a URL", id="unparsable"),
    ],
)
def test_other_endpoints_say_why(url: str, start: str) -> None:
    problem = endpoint_problem(url)
    assert problem is not None and problem.startswith(start), problem


def doc(text: str) -> Any:
    return parse_document("reconciler.yaml", text)


def test_an_endpoint_outside_adobe_in_the_file_is_a_warning_on_its_line() -> None:
    settings = doc(
        "client:\n  maxRetries: 2\nadobe:\n  orgId: X@AdobeOrg\n  imsUrl: http://localhost:1\n"
    )
    (found,) = endpoint_findings(settings, "reconciler.yaml")
    assert (found.path, found.line, found.column) == ("reconciler.yaml", 5, 3)
    assert found.rule == "endpoint-outside-adobe" and found.severity is Severity.WARNING
    assert found.message == (
        "adobe.imsUrl is not Adobe's: its host localhost is this machine: requests would reach "
        "a local server (an emulator), not Adobe, and the ledger would record them as applied; "
        "leave it out (Adobe's is the default) and set ADOBE_IMS_URL where you test instead"
    )
    assert endpoint_findings(doc("adobe:\n  orgId: X@AdobeOrg\n"), "reconciler.yaml") == []
    assert endpoint_findings(None, "reconciler.yaml") == []


# -- changes to the settings ----------------------------------------------------------------


def changes(before: str | None, after: str | None) -> list[tuple[int, str, Severity]]:
    old = doc(before).data if before is not None else None
    new = doc(after) if after is not None else None
    return [
        (f.line, f.rule, f.severity) for f in settings_changes(old, new, "reconciler.yaml", "main")
    ]


E, W = Severity.ERROR, Severity.WARNING
CLEARTEXT_OFF = "policy: {allowCleartextIdentities: false}"
# (id, reconciler.yaml at the base, in the work tree, the findings as (line, rule, severity));
# None is no file. Each change is on line 2, under a first line that stays the same.
CHANGES: list[tuple[str, str | None, str | None, list[tuple[int, str, Severity]]]] = [
    ("ims-redirected", None, "adobe: {imsUrl: 'https://evil.example'}", [
        (2, "endpoint-outside-adobe", E)]),
    ("platform-to-loopback", None, "adobe: {platformUrl: 'http://127.0.0.1:80'}", [
        (2, "endpoint-outside-adobe", E)]),
    ("another-adobe-host", None, "adobe: {imsUrl: 'https://ims-eu1.adobelogin.com'}", [
        (2, "endpoint-changed", W)]),
    ("the-default-written-out", None, "adobe: {platformUrl: 'https://platform.adobe.io'}", []),
    ("back-to-the-default", "adobe: {imsUrl: 'https://evil.example'}", None, [
        (1, "endpoint-changed", W)]),
    ("ledger-moved", None, "paths: {ledger: ledger2}", [(2, "settings-paths", E)]),
    ("requests-moved", None, "paths: {requests: other}", [(2, "settings-paths", E)]),
    ("the-same-folder", None, "paths: {ledger: ./ledger/}", []),
    ("per-request-raised", None, "limits: {maxIdentitiesPerRequest: 10001}", [
        (2, "limit-raised", E)]),
    ("per-run-raised", "limits: {maxIdentitiesPerRun: 5}", "limits: {maxIdentitiesPerRun: 6}", [
        (2, "limit-raised", E)]),
    ("lowered", None, "limits: {maxIdentitiesPerRequest: 10, maxIdentitiesPerRun: 10}", []),
    ("policy-dropped", CLEARTEXT_OFF, "client: {maxRetries: 1}", [(1, "policy-loosened", E)]),
    ("policy-turned-on", CLEARTEXT_OFF, "policy: {allowCleartextIdentities: true}", [
        (2, "policy-loosened", E)]),
    ("policy-tightened", None, CLEARTEXT_OFF, []),
    ("ledger-branch-set", None, "ledger: {branch: reconciler-ledger}", [
        (2, "ledger-branch-changed", E)]),
    ("ledger-branch-moved", "ledger: {branch: a}", "ledger: {branch: b}", [
        (2, "ledger-branch-changed", E)]),
    ("apply-branch", None, "apply: {branch: release}", [(2, "apply-branch-changed", E)]),
    ("apply-branch-default", None, "apply: {branch: main}", []),
    ("sandbox", "adobe: {sandboxName: prod}", "adobe: {sandboxName: dev}", [
        (2, "adobe-target-changed", W)]),
    ("client-settings-move-no-trust", None, "client: {maxConcurrency: 64}", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [pytest.param(before, after, expected, id=name) for name, before, after, expected in CHANGES],
)
def test_each_change_that_moves_trust(
    before: str | None, after: str | None, expected: list[tuple[int, str, Severity]]
) -> None:
    def file(body: str | None) -> str | None:
        return None if body is None else f"apiVersion: reconciler/v1\n{body}\n"

    assert changes(file(before), file(after)) == expected


def test_an_unreadable_base_compares_as_the_defaults() -> None:
    assert changes("- just\n- a list\n", "paths:\n  ledger: elsewhere\n") == [
        (2, "settings-paths", E)
    ]


def test_messages_say_why_and_what_to_do() -> None:
    new = doc(
        "adobe:\n  imsUrl: https://ims.evil.example\n"
        "paths:\n  ledger: ledger2\n"
        "limits:\n  maxIdentitiesPerRun: 200000\n"
    )
    messages = [f.message for f in settings_changes(None, new, "reconciler.yaml", "origin/main")]
    assert messages == [
        "adobe.imsUrl changed since origin/main and is not Adobe's: its host ims.evil.example "
        "is outside Adobe's domains (adobelogin.com, adobe.io, adobe.com): the client secret "
        "and every request would be sent there; restore it (the apply workflow sets "
        "ADOBE_IMS_URL; a person applying from a clone reads this file)",
        "paths.ledger changed from 'ledger' to 'ledger2' since origin/main: the ledger there "
        "looks empty, so every applied request would be sent again (consents re-sent, jobs "
        "re-created); restore it (moving a folder is a maintainer's change of its own, files "
        "moved in the same commit)",
        "limits.maxIdentitiesPerRun raised from 100000 to 200000 since origin/main: bigger "
        "deletions would pass the check from now on; restore it, or have a maintainer merge "
        "the raise on its own",
    ]


KEY_A = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
KEY_B = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"


def test_recipients_changed_names_the_public_keys_added_and_removed() -> None:
    before = doc(f"encryption:\n  recipients: [{KEY_A}]\n").data
    after = doc(f"encryption:\n  recipients:\n    - {KEY_B}\n")
    (found,) = settings_changes(before, after, "reconciler.yaml", "main")
    assert (found.line, found.rule, found.severity) == (2, "recipients-changed", W)
    assert found.message == (
        f"encryption.recipients changed since main (added {KEY_B}; removed {KEY_A}): whoever "
        "holds an added key can read every identity encrypted from now on; confirm each one "
        "is a person or job trusted with identities"
    )


# -- changes to the ledger files ------------------------------------------------------------


def entry(name: str, **extra: Any) -> bytes:
    doc = entry_document(name, f"requests/{name}.yaml", **extra)
    return (json.dumps(doc, indent=2) + "\n").encode()


def ledger_findings(
    before: dict[str, bytes],
    after: dict[str, bytes],
    imports: dict[str, Any] | None = None,
    branch: str | None = None,
) -> list[tuple[str, int, str, Severity]]:
    return [
        (f.path, f.line, f.rule, f.severity)
        for f in ledger_changes(before, after, "main", imports or {}, branch)
    ]


def test_unchanged_ledger_files_are_no_finding() -> None:
    files = {"ledger/a.json": entry("a"), "ledger/b.json": entry("b")}
    assert ledger_findings(files, dict(files)) == []


def test_an_entry_pointed_at_another_work_order_is_located_on_its_remote_ids() -> None:
    before = {"ledger/a.json": entry("a")}
    after = {"ledger/a.json": entry("a", remote={"workorderId": "DI-b"})}
    assert ledger_findings(before, after) == [("ledger/a.json", 16, "ledger-edited", E)]
    (found,) = ledger_changes(before, after, "main", {}, None)
    assert found.message == (
        "ledger/a.json changed since main (remote): ledger files are written by the apply "
        "job, and the plan trusts them over Adobe; a pull request must not change them: "
        "restore ledger/a.json"
    )


def test_a_deleted_or_garbled_entry_is_edited() -> None:
    before = {"ledger/a.json": entry("a"), "ledger/b.json": entry("b")}
    after = {"ledger/b.json": b"{not json"}
    assert ledger_findings(before, after) == [
        ("ledger/a.json", 1, "ledger-edited", E),
        ("ledger/b.json", 1, "ledger-edited", E),
    ]
    (deleted, _) = ledger_changes(before, after, "main", {}, None)
    assert deleted.message == (
        "ledger/a.json was deleted since main: ledger files are written by the apply job, and "
        "without its entry the request would be sent to Adobe again; a pull request must not "
        "change them: restore ledger/a.json"
    )


def test_an_added_entry_is_forged() -> None:
    (found,) = ledger_changes({}, {"ledger/c.json": entry("c")}, "main", {}, None)
    assert (found.path, found.line, found.rule) == ("ledger/c.json", 1, "ledger-forged")
    assert found.message == (
        "ledger/c.json is new: only the apply job records what Adobe accepted, and an entry "
        "written by hand makes the plan take request 'c' as applied, so it is never sent; a "
        "pull request must not add one: remove ledger/c.json"
    )


def test_an_added_or_removed_intent_is_a_finding() -> None:
    intent = b'{"apiVersion": "reconciler/v1", "name": "c", "kind": "RecordDelete"}'
    (added,) = ledger_changes({}, {"ledger/intents/c.json": intent}, "main", {}, None)
    assert (added.path, added.rule) == ("ledger/intents/c.json", "ledger-forged")
    assert added.message == (
        "ledger/intents/c.json is new: only the apply job writes intents, right before it "
        "sends a create, and one written by hand holds request 'c' back as "
        "pending-verification (or has it sent again); a pull request must not add one: "
        "remove ledger/intents/c.json"
    )
    (removed,) = ledger_changes({"ledger/intents/c.json": intent}, {}, "main", {}, None)
    assert (removed.path, removed.rule) == ("ledger/intents/c.json", "ledger-edited")


IMPORTED = """\
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: {name}
  imported: true
spec:
  datasetId: c48b51623ec641a2949d339bad69cb15
  displayName: Made in Adobe's UI
"""


def test_an_imported_entry_with_its_new_imported_request_is_a_warning_naming_the_work_order() -> (
    None
):
    imported = request_from("old-cleanup", IMPORTED)
    added = {"ledger/old-cleanup.json": entry("old-cleanup", imported=True)}
    (found,) = ledger_changes({}, added, "main", {"old-cleanup": imported}, None)
    assert (found.line, found.rule, found.severity) == (16, "ledger-imported", W)
    assert found.message == (
        "ledger/old-cleanup.json adopts Adobe work order DI-old-cleanup as request "
        "'old-cleanup' (reconciler import): before approving, confirm at Adobe that it is "
        "this organisation's and is to be managed from this repository"
    )


@pytest.mark.parametrize(
    ("imported_entry", "imports"),
    [
        pytest.param(False, {"old-cleanup"}, id="entry-not-marked-imported"),
        pytest.param(True, set(), id="no-new-imported-request-of-that-name"),
    ],
)
def test_an_import_needs_both_halves(imported_entry: bool, imports: set[str]) -> None:
    extra = {"imported": True} if imported_entry else {}
    added = {"ledger/old-cleanup.json": entry("old-cleanup", **extra)}
    requests = {n: request_from(n, IMPORTED) for n in imports}
    assert ledger_findings({}, added, requests) == [
        ("ledger/old-cleanup.json", 1, "ledger-forged", E)
    ]


def test_with_a_ledger_branch_files_written_in_the_tree_are_findings_and_removals_not() -> None:
    before = {"ledger/old.json": entry("old"), "ledger/kept.json": entry("kept")}
    after = {"ledger/kept.json": entry("kept", remote={}), "ledger/new.json": entry("new")}
    assert ledger_findings(before, after, branch="reconciler-ledger") == [
        ("ledger/kept.json", 1, "ledger-in-tree", E),
        ("ledger/new.json", 1, "ledger-in-tree", E),
    ]


# -- a request that repeats an applied one --------------------------------------------------


def applied(name: str, template: str, count: int | None = None) -> Entry:
    """The entry apply records for the request ``template`` makes, under ``name``."""
    request = request_from(name, template)
    return Entry(
        name=name,
        kind=request.kind,
        path=request.path,
        fingerprint=Fingerprint.of(request),
        submitted_at="2026-01-02T03:04:05Z",
        remote_id=f"DI-{name}" if request.kind is Kind.RECORD_DELETE else None,
        identity_count=request.identity_count() if count is None else count,
    )


def twins(requests: list[Any], entries: list[Entry]) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.rule) for f in applied_twins(requests, entries)]


def test_a_copy_under_a_new_name_is_refused_naming_the_applied_request() -> None:
    copy = request_from("req-z", RECORD_DELETE)
    (found,) = applied_twins([copy], [applied("req-a", RECORD_DELETE)])
    assert (found.path, found.line, found.column, found.rule) == (
        "requests/req-z.yaml",
        4,
        9,
        "already-applied",
    )
    assert found.message == (
        "this request declares the same work order as request 'req-a', applied as DI-req-a: "
        "applying it would send the same identities to Adobe again under a new name; a "
        "request's name is permanent: keep 'req-a' (requests/req-a.yaml) and drop this file"
    )


def test_a_consent_has_no_remote_id_to_name() -> None:
    (found,) = applied_twins([request_from("c2", CONSENT)], [applied("c1", CONSENT)])
    assert "as request 'c1', recorded in the ledger as applied:" in found.message


def test_what_is_in_the_ledger_or_differs_is_fine() -> None:
    entries = [applied("req-a", RECORD_DELETE), applied("job-1", PRIVACY_JOB)]
    other = RECORD_DELETE.replace("b@example.com", "z@example.com")
    requests = [
        request_from("req-a", RECORD_DELETE),  # itself
        request_from("req-b", other),  # other identities
        request_from("job-2", PRIVACY_JOB.replace("gdpr", "ccpa")),  # other regulation
        request_from("con-1", CONSENT),  # another kind
    ]
    assert twins(requests, entries) == []
    assert twins([request_from("job-3", PRIVACY_JOB)], entries) == [
        ("requests/job-3.yaml", 4, "already-applied")
    ]


def test_candidates_are_the_entries_of_the_same_count_and_those_without_one() -> None:
    copy = request_from("req-z", RECORD_DELETE)  # two identities
    assert twins([copy], [applied("req-a", RECORD_DELETE, count=3)]) == []
    assert twins([copy], [applied("req-a", RECORD_DELETE, count=0)]) == [
        ("requests/req-z.yaml", 4, "already-applied")
    ]


def test_requests_without_identities_are_left_out() -> None:
    entries = [applied("imp-1", IMPORTED)]
    assert twins([request_from("imp-2", IMPORTED)], entries) == []


def test_ten_thousand_entries_cost_the_new_requests_a_bucket_each() -> None:
    """500 new requests against 10,000 entries spread over 100 identity counts: each
    request is hashed against the 100 entries of its count (50,000 hashes, well under a
    second), not against all 10,000 (5 million, over a minute)."""
    request = request_from("seed", RECORD_DELETE)
    salt_digest = Fingerprint("00" * 16, "ab" * 32)
    entries = [
        Entry(
            name=f"applied-{i}",
            kind=request.kind,
            path=f"requests/applied-{i}.yaml",
            fingerprint=salt_digest,
            submitted_at="2026-01-02T03:04:05Z",
            identity_count=1 + i % 100,
        )
        for i in range(10_000)
    ]
    requests = [request_from(f"new-{i}", RECORD_DELETE.replace("a@", f"a{i}@")) for i in range(500)]
    started = time.perf_counter()
    assert twins(requests, entries) == []
    assert time.perf_counter() - started < 10
