"""Pull requests that would change what reaches Adobe without a reviewer seeing it.

Each scenario is played in a real repository: requests declared and applied on main
against the emulator (the ledger is what apply wrote), then a branch that does what a
careless or hostile pull request could do, checked with ``validate --base`` as the
pull-request check runs it, or with ``validate`` alone as the pre-commit hook and the
apply job run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.ledger import Fingerprint
from tests.conftest import CONSENT, RECORD_DELETE, git, request_from, write
from tests.encryption_helpers import configure, new_key
from tests.scaffold.test_workflows import APPLY, load, run_step, step_running, the_job

SETTINGS = "scope: testrepo\nclient:\n  requestsPerSecond: 1000\n"
OTHER_DELETE = RECORD_DELETE.replace("a@example.com", "c@example.com").replace(
    "b@example.com", "d@example.com"
)
# Adobe refuses it: the dataset's primary identity is an email, not an ECID.
REFUSED = """\
apiVersion: reconciler/v1
kind: RecordDelete
metadata:
  name: {name}
spec:
  datasetId: c48b51623ec641a2949d339bad69cb15
  displayName: Refused
  identities:
    - namespace: {{code: ECID}}
      id: "12345678901234567890123456789012345678"
"""


def validate(run: Any, repo: Path, *args: str) -> tuple[int, list[str]]:
    result = run("-C", str(repo), "validate", *args)
    return result.exit_code, result.output.strip().splitlines()


def apply_and_commit(run: Any, repo: Path) -> str:
    result = run("-C", str(repo), "apply", "--auto-approve", "--commit")
    assert result.exit_code == 0, result.output
    return result.output


def line_of(path: Path, start: str) -> int:
    """The 1-based line of ``path`` that starts with ``start``, read here, not by the tool."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


@pytest.fixture
def applied(run: Any, adobe: Any, repo: Path) -> Path:
    """main holds req-a and req-d (record deletes) and req-b (a consent), all applied by
    apply and recorded in the ledger it committed; the work goes on in branch `change`."""
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    write(repo, "requests/req-d.yaml", OTHER_DELETE.format(name="req-d"))
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-a, req-b and req-d")
    assert "3 created" in apply_and_commit(run, repo)
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "checkout", "-qb", "change")
    return repo


# -- 1. the ledger ------------------------------------------------------------------------


def test_a_forged_entry_for_a_new_request_would_make_the_plan_skip_it(
    run: Any, applied: Path
) -> None:
    write(applied, "requests/req-c.yaml", OTHER_DELETE.format(name="req-c").replace("d@", "e@"))
    forged = json.loads((applied / "ledger/req-a.json").read_text())
    fingerprint = Fingerprint.of(request_from("req-c", OTHER_DELETE.replace("d@", "e@")))
    forged |= {
        "name": "req-c",
        "path": "requests/req-c.yaml",
        "remote": {"workorderId": "DI-0000-invented"},
        "fingerprint": {"algorithm": "blake2b-256", "salt": fingerprint.salt},
    }
    forged["fingerprint"]["digest"] = fingerprint.digest
    write(applied, "ledger/req-c.json", json.dumps(forged, indent=2) + "\n")
    git(applied, "add", "-A")
    git(applied, "commit", "-qm", "Add req-c")
    # Why it matters: the plan takes req-c as applied, and its deletion is never sent.
    plan = run("-C", str(applied), "plan", "--offline", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert validate(run, applied) == (0, ["4 file(s) valid"])

    assert validate(run, applied, "--base", "main") == (
        1,
        [
            "ledger/req-c.json:1:1: error: ledger/req-c.json is new: only the apply job records "
            "what Adobe accepted, and an entry written by hand makes the plan take request "
            "'req-c' as applied, so it is never sent; a pull request must not add one: remove "
            "ledger/req-c.json (ledger-forged)",
            "1 error(s) in 1 of 5 file(s)",
        ],
    )


def test_an_entry_pointed_at_another_requests_work_order(run: Any, applied: Path) -> None:
    path = applied / "ledger/req-a.json"
    entry = json.loads(path.read_text())
    other = json.loads((applied / "ledger/req-d.json").read_text())["remote"]["workorderId"]
    entry["remote"]["workorderId"] = other
    path.write_text(json.dumps(entry, indent=2) + "\n")
    git(applied, "commit", "-qam", "Point req-a elsewhere")
    line = line_of(path, '  "remote"')
    assert validate(run, applied, "--base", "main") == (
        1,
        [
            f"ledger/req-a.json:{line}:3: error: ledger/req-a.json changed since main (remote): "
            "ledger files are written by the apply job, and the plan trusts them over Adobe; a "
            "pull request must not change them: restore ledger/req-a.json (ledger-edited)",
            "1 error(s) in 1 of 4 file(s)",
        ],
    )


def test_a_deleted_entry_is_reported_and_its_request_stays_immutable(
    run: Any, applied: Path
) -> None:
    git(applied, "rm", "-q", "ledger/req-a.json")
    path = applied / "requests/req-a.yaml"
    path.write_text(path.read_text().replace("b@example.com", "z@example.com"))
    code, lines = validate(run, applied, "--base", "main")
    assert code == 1
    assert [line.rsplit(" ", 1)[-1] for line in lines[:-1]] == [
        "(ledger-edited)",
        "(immutable-field)",
    ]
    assert lines[0].startswith("ledger/req-a.json:1:1: error: ledger/req-a.json was deleted")
    assert lines[1].startswith("requests/req-a.yaml:9:3: error: spec.identities of request")


def test_ledger_commits_made_on_main_after_the_branch_point_are_no_change(
    run: Any, applied: Path, tmp_path: Path
) -> None:
    """The base is where the branch left main: what apply committed there since, and
    requests merged there since, are not this branch's deletions."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(applied), str(origin))
    git(applied, "remote", "add", "origin", str(origin))
    write(applied, "requests/req-c.yaml", CONSENT.format(name="req-c").replace("d@", "e@"))
    git(applied, "add", "-A")
    git(applied, "commit", "-qm", "Add req-c")
    # Meanwhile on main: req-e merged and applied, its ledger entry committed and pushed.
    git(applied, "checkout", "-q", "main")
    write(applied, "requests/req-e.yaml", CONSENT.format(name="req-e").replace("d@", "f@"))
    git(applied, "add", "-A")
    git(applied, "commit", "-qm", "Add req-e")
    assert "1 created" in apply_and_commit(run, applied)
    git(applied, "push", "-q", "origin", "main")
    git(applied, "checkout", "-q", "change")
    assert not (applied / "ledger/req-e.json").exists()
    assert git(applied, "rev-parse", "origin/main") != git(
        applied, "merge-base", "origin/main", "HEAD"
    )

    assert validate(run, applied, "--base", "origin/main") == (0, ["4 file(s) valid"])


def test_with_a_ledger_branch_ledger_files_in_the_tree_are_refused(run: Any, repo: Path) -> None:
    write(repo, "reconciler.yaml", SETTINGS + "ledger:\n  branch: reconciler-ledger\n")
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-a")
    git(repo, "checkout", "-qb", "change")
    write(repo, "ledger/req-a.json", '{"name": "req-a"}\n')
    assert validate(run, repo, "--base", "main") == (
        1,
        [
            "ledger/req-a.json:1:1: error: ledger.branch is 'reconciler-ledger': the ledger "
            "lives on that branch, written by the apply job alone, and ledger/req-a.json in this "
            "tree is no ledger file; a pull request must not add one: remove ledger/req-a.json "
            "(ledger-in-tree)",
            "1 error(s) in 1 of 2 file(s)",
        ],
    )


def test_an_import_is_a_warning_naming_the_work_order(run: Any, adobe: Any, repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Start")
    git(repo, "checkout", "-qb", "import")
    with AdobeClient(AdobeConfig.from_env({**os.environ})) as client:
        order = client.hygiene.create_work_order(
            dataset_id="c48b51623ec641a2949d339bad69cb15",
            display_name="Made in the UI",
            description="by hand",
            identities=[("email", "someone@example.com")],
        )
    imported = run("-C", str(repo), "import", order.workorder_id)
    assert imported.exit_code == 0, imported.output
    (path,) = (repo / "ledger").glob("*.json")
    line = line_of(path, '  "remote"')
    assert validate(run, repo, "--base", "main") == (
        0,
        [
            f"ledger/{path.name}:{line}:3: warning: ledger/{path.name} adopts Adobe work order "
            f"{order.workorder_id} as request '{path.stem}' (reconciler import): before "
            "approving, confirm at Adobe that it is this organisation's and is to be managed "
            "from this repository (ledger-imported)",
            "2 file(s) valid",
        ],
    )


# -- 2. the settings ----------------------------------------------------------------------


def test_endpoints_redirected_away_from_adobe(run: Any, applied: Path) -> None:
    settings = "adobe:\n  imsUrl: https://ims.evil.example\n  platformUrl: http://127.0.0.1:8080\n"
    write(applied, "reconciler.yaml", SETTINGS + settings)
    git(applied, "commit", "-qam", "Faster endpoints")
    assert validate(run, applied, "--base", "main") == (
        1,
        [
            "reconciler.yaml:5:3: error: adobe.imsUrl changed since main and is not Adobe's: its "
            "host ims.evil.example is outside Adobe's domains (adobelogin.com, adobe.io, "
            "adobe.com): the client secret and every request would be sent there; restore it "
            "(the apply workflow sets ADOBE_IMS_URL; a person applying from a clone reads this "
            "file) (endpoint-outside-adobe)",
            "reconciler.yaml:6:3: error: adobe.platformUrl changed since main and is not Adobe's: "
            "its host 127.0.0.1 is this machine: requests would reach a local server (an "
            "emulator), not Adobe, and the ledger would record them as applied; restore it (the "
            "apply workflow sets ADOBE_PLATFORM_URL; a person applying from a clone reads this "
            "file) (endpoint-outside-adobe)",
            "2 error(s) in 1 of 4 file(s)",
        ],
    )
    # Without a base (the pre-commit hook), the same file is a warning on each line.
    code, lines = validate(run, applied)
    assert code == 0 and lines[-1] == "4 file(s) valid"
    assert [line.split(": warning: ")[0] for line in lines[:-1]] == [
        "reconciler.yaml:5:3",
        "reconciler.yaml:6:3",
    ]


def test_the_ledger_moved_would_send_everything_again(run: Any, applied: Path) -> None:
    write(applied, "reconciler.yaml", SETTINGS + "paths:\n  ledger: records\n")
    git(applied, "commit", "-qam", "Tidy folders")
    # Why it matters: the ledger there is empty, so every request is to be created again.
    plan = run("-C", str(applied), "plan", "--offline")
    assert "3 to create" in plan.output
    assert validate(run, applied, "--base", "main") == (
        1,
        [
            "reconciler.yaml:5:3: error: paths.ledger changed from 'ledger' to 'records' since "
            "main: the ledger there looks empty, so every applied request would be sent again "
            "(consents re-sent, jobs re-created); restore it (moving a folder is a maintainer's "
            "change of its own, files moved in the same commit) (settings-paths)",
            "1 error(s) in 1 of 4 file(s)",
        ],
    )


def test_the_requests_moved_keep_their_base_rules(run: Any, applied: Path) -> None:
    """The base's requests are read from the base's folder: moving the folder in the same
    change does not hide an applied request's new identities."""
    git(applied, "mv", "requests", "demandes")
    write(applied, "reconciler.yaml", SETTINGS + "paths:\n  requests: demandes\n")
    path = applied / "demandes/req-a.yaml"
    path.write_text(path.read_text().replace("b@example.com", "z@example.com"))
    code, lines = validate(run, applied, "--base", "main")
    assert code == 1
    assert [line.rsplit(" ", 1)[-1] for line in lines[:-1]] == [
        "(immutable-field)",
        "(settings-paths)",
    ]
    assert lines[0].startswith("demandes/req-a.yaml:9:3: error: spec.identities of request")


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        pytest.param(
            "limits:\n  maxIdentitiesPerRequest: 100000\n",
            (
                1,
                [
                    "reconciler.yaml:5:3: error: limits.maxIdentitiesPerRequest raised from 10000 "
                    "to 100000 since main: bigger deletions would pass the check from now on; "
                    "restore it, or have a maintainer merge the raise on its own (limit-raised)",
                    "1 error(s) in 1 of 4 file(s)",
                ],
            ),
            id="raised",
        ),
        pytest.param(
            "limits:\n  maxIdentitiesPerRequest: 50\n  maxIdentitiesPerRun: 500\n",
            (0, ["3 file(s) valid"]),
            id="lowered-is-fine",
        ),
    ],
)
def test_limits(run: Any, applied: Path, limits: str, expected: tuple[int, list[str]]) -> None:
    write(applied, "reconciler.yaml", SETTINGS + limits)
    git(applied, "commit", "-qam", "Limits")
    assert validate(run, applied, "--base", "main") == expected


def test_policy_and_keys(run: Any, repo: Path) -> None:
    old, new = new_key(), new_key()
    configure(repo, old)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Encrypt everything")
    git(repo, "checkout", "-qb", "change")
    configure(repo, new, cleartext=True)
    code, lines = validate(run, repo, "--base", "main")
    assert code == 1
    assert lines == [
        f"reconciler.yaml:4:3: warning: encryption.recipients changed since main (added "
        f"{new.public}; removed {old.public}): whoever holds an added key can read every "
        "identity encrypted from now on; confirm each one is a person or job trusted with "
        "identities (recipients-changed)",
        "reconciler.yaml:7:3: error: policy.allowCleartextIdentities turned on since main: "
        "identities in clear would pass the check and stay in git history for good; restore "
        "false (policy-loosened)",
        "1 error(s) in 1 of 1 file(s)",
    ]
    assert old.secret not in "\n".join(lines) and new.secret not in "\n".join(lines)


# -- 4. immutability starts at submission ---------------------------------------------------


@pytest.fixture
def refused(run: Any, adobe: Any, repo: Path) -> Path:
    """main holds req-x, which Adobe refused (400): nothing was submitted, nothing recorded."""
    write(repo, "requests/req-x.yaml", REFUSED.format(name="req-x"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-x")
    result = run("-C", str(repo), "apply", "--auto-approve", "--commit")
    assert result.exit_code == 1 and "do not match the primary identity namespace" in result.output
    assert not (repo / "ledger/req-x.json").exists()
    git(repo, "checkout", "-qb", "fix")
    return repo


def test_a_refused_request_may_be_corrected(run: Any, refused: Path) -> None:
    path = refused / "requests/req-x.yaml"
    text = path.read_text().replace("{code: ECID}", "{code: email}")
    path.write_text(text.replace('"12345678901234567890123456789012345678"', "x@example.com"))
    git(refused, "commit", "-qam", "Use the dataset's namespace")
    assert validate(run, refused, "--base", "main") == (
        0,
        [
            "requests/req-x.yaml:8:3: warning: spec.identities of request 'req-x' changed since "
            "main; allowed, as it has no ledger entry: Adobe never accepted it, so nothing was "
            "submitted (if an apply is running now, check again once it is done) "
            "(request-not-applied)",
            "1 file(s) valid",
        ],
    )


def test_a_refused_request_may_be_removed(run: Any, refused: Path) -> None:
    write(refused, "requests/req-y.yaml", CONSENT.format(name="req-y"))
    git(refused, "rm", "-q", "requests/req-x.yaml")
    assert validate(run, refused, "--base", "main") == (
        0,
        [
            "requests/req-x.yaml:1:1: warning: request 'req-x' was removed; allowed, as it has "
            "no ledger entry: Adobe never accepted it, so nothing was submitted "
            "(request-not-applied)",
            "1 file(s) valid",
        ],
    )


# -- 5. renames and copies, without --base --------------------------------------------------


def test_a_renamed_applied_request_is_refused_without_a_base(run: Any, applied: Path) -> None:
    git(applied, "mv", "requests/req-a.yaml", "requests/req-a2.yaml")
    path = applied / "requests/req-a2.yaml"
    path.write_text(path.read_text().replace("name: req-a", "name: req-a2"))
    # Why it matters: the plan would create a second work order with the same identities.
    plan = run("-C", str(applied), "plan", "--offline")
    assert "req-a2" in plan.output and "1 to create" in plan.output
    message = (
        "requests/req-a2.yaml:4:9: error: this request declares the same work order as request "
        "'req-a', applied as {}: applying it would send the same identities to Adobe again "
        "under a new name; a request's name is permanent: keep 'req-a' (requests/req-a.yaml) "
        "and drop this file (already-applied)"
    )
    work_order = json.loads((applied / "ledger/req-a.json").read_text())["remote"]["workorderId"]
    assert validate(run, applied) == (
        1,
        [message.format(work_order), "1 error(s) in 1 of 3 file(s)"],
    )
    # With a base, the rename rule says the same, once.
    code, lines = validate(run, applied, "--base", "main")
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith("requests/req-a2.yaml:4:9: error: this is request 'req-a' renamed")


def test_a_copy_under_a_new_name_is_refused(run: Any, applied: Path) -> None:
    write(applied, "requests/copies/again.yaml", CONSENT.format(name="again"))
    code, lines = validate(run, applied, "requests/copies/again.yaml")
    assert code == 1
    assert lines == [
        "requests/copies/again.yaml:4:9: error: this request declares the same consent "
        "submission as request 'req-b', recorded in the ledger as applied: applying it would "
        "send the same identities to Adobe again under a new name; a request's name is "
        "permanent: keep 'req-b' (requests/req-b.yaml) and drop this file (already-applied)",
        "1 error(s) in 1 of 1 file(s)",
    ]


def test_an_encrypted_copy_is_caught_where_the_key_is(
    run: Any, adobe: Any, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    configure(repo, key)
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    assert run("-C", str(repo), "encrypt").exit_code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Declare req-a")
    monkeypatch.setenv("RECONCILER_AGE_KEY", key.secret)
    apply_and_commit(run, repo)
    copy = (repo / "requests/req-a.yaml").read_text().replace("name: req-a", "name: req-b")
    write(repo, "requests/req-b.yaml", copy)
    code, lines = validate(run, repo)
    assert code == 1 and lines[0].endswith("(already-applied)")
    assert lines[0].startswith("requests/req-b.yaml:4:9: error: this request declares the same")
    # Without the key the values cannot be compared: the apply job, which has it, refuses it.
    monkeypatch.delenv("RECONCILER_AGE_KEY")
    assert validate(run, repo) == (0, ["2 file(s) valid"])


def test_the_check_as_a_subprocess_annotates_a_copied_entry(applied: Path) -> None:
    """req-b's entry copied as req-z's: added by hand, and not even req-z's."""
    write(applied, "ledger/req-z.json", (applied / "ledger/req-b.json").read_text())
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--base", "main", "--format", "github"],
        cwd=applied,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "::error file=ledger/req-z.json,line=1,col=1,title=ledger-forged::ledger/req-z.json is "
        "new: only the apply job records what Adobe accepted, and an entry written by hand "
        "makes the plan take request 'req-z' as applied, so it is never sent; a pull request "
        "must not add one: remove ledger/req-z.json",
        "::error file=ledger/req-z.json,line=1,col=1,title=ledger-unreadable::holds entry "
        "'req-b'; the file name must match",
        "2 error(s) in 1 of 4 file(s)",
    ]


# -- 3. the apply job's own check -----------------------------------------------------------


def validate_step() -> dict[str, Any]:
    return step_running(the_job(load(APPLY)), "reconciler validate")


def test_the_apply_job_compares_with_the_commit_before_the_push(run: Any, applied: Path) -> None:
    """A rename that reached main unchecked is refused before anything is applied."""
    git(applied, "checkout", "-q", "main")
    before = git(applied, "rev-parse", "HEAD").strip()
    git(applied, "mv", "requests/req-b.yaml", "requests/req-b2.yaml")
    path = applied / "requests/req-b2.yaml"
    path.write_text(path.read_text().replace("name: req-b", "name: req-b2"))
    git(applied, "commit", "-qam", "Rename req-b")
    done = run_step(
        validate_step(), applied, {"github.event.before": before, "secrets.RECONCILER_AGE_KEY": ""}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("::error file=requests/req-b2.yaml,line=4,col=9,")
    assert "request-renamed" in done.stdout


def test_the_apply_job_leaves_its_own_ledger_commits_alone(run: Any, applied: Path) -> None:
    """Between the commit before the push and main's tip are the ledger commits of earlier
    runs, and reconciler.yaml changes a maintainer merged: the job compares requests only."""
    git(applied, "checkout", "-q", "main")
    before = git(applied, "rev-parse", "HEAD").strip()
    write(applied, "requests/req-c.yaml", CONSENT.format(name="req-c").replace("d@", "e@"))
    write(applied, "reconciler.yaml", SETTINGS + "limits:\n  maxIdentitiesPerRun: 200000\n")
    git(applied, "add", "-A")
    git(applied, "commit", "-qm", "Add req-c, raise the run limit")
    apply_and_commit(run, applied)
    context = {"github.event.before": before, "secrets.RECONCILER_AGE_KEY": ""}
    done = run_step(validate_step(), applied, context)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::error" not in done.stdout and "::warning" not in done.stdout


@pytest.mark.parametrize(
    ("before", "code", "start"),
    [
        pytest.param("0" * 40, 0, "3 file(s) valid", id="a-new-branch"),
        pytest.param("", 0, "3 file(s) valid", id="run-by-hand"),
        pytest.param("ab" * 20, 1, "::error title=Unknown base::The commit before", id="gone"),
    ],
)
def test_the_apply_job_without_a_commit_before(
    applied: Path, before: str, code: int, start: str
) -> None:
    context = {"github.event.before": before, "secrets.RECONCILER_AGE_KEY": ""}
    done = run_step(validate_step(), applied, context)
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stdout.startswith(start)
