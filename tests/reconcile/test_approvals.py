"""Approvals as evidence: the approvals file, the pull request of a merge, policy.requireApproval.

Real git in tmp_path (branches, merge commits and squash merges, with the subjects GitHub
writes), the emulator for Adobe, the CLI through the ``run`` fixture. The approvals files
are fixtures written out here, shaped as the apply workflow writes them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reconciler.reconcile.approvals import (
    ApprovalsError,
    PullRequest,
    Review,
    load_approvals,
    pull_request_of,
)
from tests.conftest import CONSENT, RECORD_DELETE, git, tagged_counts, write, writes

PRIYA = {"GIT_AUTHOR_NAME": "Priya", "GIT_AUTHOR_EMAIL": "priya@example.com"}
RUI = {"GIT_AUTHOR_NAME": "Rui", "GIT_AUTHOR_EMAIL": "rui@example.com"}
REQUIRE = "scope: testrepo\nclient:\n  requestsPerSecond: 1000\npolicy:\n  requireApproval: true\n"


def as_(who: dict[str, str], cwd: Path, *args: str) -> str:
    """git as ``who`` (author and committer)."""
    committer = {
        "GIT_COMMITTER_NAME": who["GIT_AUTHOR_NAME"],
        "GIT_COMMITTER_EMAIL": who["GIT_AUTHOR_EMAIL"],
    }
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **who, **committer},
    ).stdout.strip()


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def start(repo: Path, settings: str | None = None) -> None:
    """main with one commit (the settings), as a repository starts."""
    if settings is not None:
        write(repo, "reconciler.yaml", settings)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Start")


def merge_pull_request(repo: Path, branch: str, name: str, number: int) -> tuple[str, str]:
    """Priya declares ``name`` on ``branch``; Rui merges it with a merge commit, as GitHub
    does: (the branch's commit, the merge commit)."""
    as_(PRIYA, repo, "checkout", "-q", "-b", branch)
    write(repo, f"requests/{name}.yaml", RECORD_DELETE.format(name=name))
    as_(PRIYA, repo, "add", "-A")
    as_(PRIYA, repo, "commit", "-qm", f"Add {name}")
    commit = head(repo)
    as_(RUI, repo, "checkout", "-q", "main")
    message = f"Merge pull request #{number} from acme/{branch}\n\nAdd {name}"
    as_(RUI, repo, "merge", "-q", "--no-ff", branch, "-m", message)
    return commit, head(repo)


def squash_pull_request(repo: Path, branch: str, name: str, number: int) -> tuple[str, str]:
    """Priya declares ``name`` on ``branch``; it is squash-merged: GitHub makes the squash
    commit with the pull request's author as its author. (the branch's commit, the squash)."""
    as_(PRIYA, repo, "checkout", "-q", "-b", branch)
    write(repo, f"requests/{name}.yaml", CONSENT.format(name=name))
    as_(PRIYA, repo, "add", "-A")
    as_(PRIYA, repo, "commit", "-qm", f"Add {name}")
    commit = head(repo)
    as_(RUI, repo, "checkout", "-q", "main")
    as_(RUI, repo, "merge", "-q", "--squash", branch)
    as_(PRIYA, repo, "commit", "-qm", f"Add {name} opt-out (#{number})")
    return commit, head(repo)


def pull_request(
    number: int, commits: list[str], merge: str, reviews: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "number": number,
        "url": f"https://github.com/acme/privacy-requests/pull/{number}",
        "title": f"Pull request {number}",
        "author": "priya",
        "mergedBy": "rui",
        "mergedAt": "2026-11-22T16:30:00Z",
        "mergeCommit": merge,
        "commits": commits,
        "reviews": reviews,
    }


def review(reviewer: str, state: str, commit: str, at: str) -> dict[str, object]:
    return {"reviewer": reviewer, "state": state, "submittedAt": at, "commit": commit}


def approvals_file(tmp_path: Path, *pull_requests: dict[str, object]) -> Path:
    """The file the apply workflow writes, outside the work tree."""
    path = tmp_path / "runner-temp" / "approvals.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "pullRequests": list(pull_requests)}, indent=2))
    return path


def apply(run, repo: Path, *args: str):
    return run("-C", str(repo), "apply", "--auto-approve", "--commit", *args)


# --- the merge commit's subject -------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        pytest.param("Merge pull request #12 from acme/add-req-a", 12, id="merge-commit"),
        pytest.param("Add JIRA-12399 erasure (#345)", 345, id="squash-merge"),
        pytest.param("Add JIRA-12399 erasure (#345)  ", 345, id="squash-trailing-space"),
        pytest.param("Merge branch 'add-req-a'", None, id="a-local-merge"),
        pytest.param("Fix the (#12) typo", None, id="a-number-not-at-the-end"),
        pytest.param("Merge pull request #12", None, id="no-source-branch"),
        pytest.param("Add req-a", None, id="a-plain-commit"),
    ],
)
def test_the_pull_request_is_read_from_the_subject_github_writes(
    subject: str, number: int | None
) -> None:
    assert pull_request_of(subject) == number


# --- who approved ---------------------------------------------------------------------------

C1, C2 = "1" * 40, "2" * 40


@pytest.mark.parametrize(
    ("reviews", "approvers"),
    [
        pytest.param([("rui", "APPROVED")], ("rui",), id="one-approval"),
        pytest.param([("priya", "APPROVED")], (), id="the-author-alone"),
        pytest.param([("rui", "APPROVED"), ("rui", "COMMENTED")], ("rui",), id="then-a-comment"),
        pytest.param([("rui", "APPROVED"), ("rui", "CHANGES_REQUESTED")], (), id="then-changes"),
        pytest.param([("rui", "CHANGES_REQUESTED"), ("rui", "APPROVED")], ("rui",), id="fixed"),
        pytest.param([("rui", "DISMISSED")], (), id="dismissed"),
        pytest.param([("rui", "COMMENTED")], (), id="a-comment-only"),
        pytest.param(
            [("sam", "APPROVED"), ("priya", "APPROVED"), ("rui", "APPROVED")],
            ("sam", "rui"),
            id="two-and-the-author",
        ),
    ],
)
def test_approvers_are_standing_approvals_of_others_than_the_author(
    reviews: list[tuple[str, str]], approvers: tuple[str, ...]
) -> None:
    pr = PullRequest(
        12, "priya", commits=(C1,), reviews=tuple(Review(r, s, None, C1) for r, s in reviews)
    )
    assert pr.approvers() == approvers


def test_a_commit_is_found_in_its_pull_request_by_its_commits_or_merge_commit(
    tmp_path: Path,
) -> None:
    path = approvals_file(tmp_path, pull_request(12, [C1], C2, []))
    approvals = load_approvals(path)
    assert approvals.find(C1) is not None and approvals.find(C1).number == 12  # type: ignore[union-attr]
    assert approvals.find(C2) is not None and approvals.find(C2).number == 12  # type: ignore[union-attr]
    assert approvals.find("3" * 40) is None
    assert approvals.find(None) is None


# --- a malformed approvals file -------------------------------------------------------------

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("{not json", "not a JSON approvals file (JSONDecodeError)", id="not-json"),
        pytest.param(
            json.dumps({"version": 2, "pullRequests": []}), "version must be 1", id="version"
        ),
        pytest.param(
            json.dumps({"version": 1, "pullRequests": [pull_request(12, [C1], C2, [])]}).replace(
                '"priya"', json.dumps(TOKEN + " x")
            ),
            "pullRequests[0].author must be a GitHub login (letters, digits and hyphens)",
            id="a-secret-where-a-login-goes",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": 1,
                    "pullRequests": [pull_request(12, [C1], C2, [review("rui", "OK", C1, "x")])],
                }
            ),
            "pullRequests[0].reviews[0].state must be one of: "
            '"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING" (and 1 more)',
            id="a-review-state",
        ),
        pytest.param(
            json.dumps({"version": 1, "pullRequests": [{"number": 12, "token": TOKEN}]}),
            "pullRequests[0] is missing required field 'author' (and 1 more)",
            id="unknown-fields",
        ),
    ],
)
def test_a_malformed_approvals_file_is_one_clear_error(
    run, adobe, repo: Path, tmp_path: Path, text: str, problem: str
) -> None:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    start(repo)
    bad = tmp_path / "approvals.json"
    bad.write_text(text)
    result = apply(run, repo, "--approvals", str(bad))
    assert result.exit_code == 1
    assert result.output == f"error: {bad}: {problem}; see schemas/approvals.schema.json\n"
    assert TOKEN not in result.output
    assert writes(adobe) == []


def test_a_missing_approvals_file_names_it(run, adobe, repo: Path, tmp_path: Path) -> None:
    start(repo)
    missing = tmp_path / "nowhere.json"
    result = apply(run, repo, "--approvals", str(missing))
    assert result.exit_code == 1
    assert result.output == (
        f"error: {missing}: cannot read the approvals file (No such file or directory)\n"
    )


def test_load_approvals_raises_its_own_error(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text("[]")
    with pytest.raises(ApprovalsError, match=r"a\.json: the document must be an object"):
        load_approvals(bad, "a.json")


# --- apply --approvals records who approved -------------------------------------------------


def test_apply_records_the_approval_and_the_audit_shows_it_apart_from_the_merge(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    start(repo)
    commit, merge = merge_pull_request(repo, "add-req-a", "req-a", 12)
    reviews = [
        review("priya", "APPROVED", commit, "2026-11-22T16:20:00Z"),  # her own: never counts
        review("sam", "COMMENTED", commit, "2026-11-22T16:21:00Z"),
        review("rui", "APPROVED", commit, "2026-11-22T16:25:00Z"),
    ]
    path = approvals_file(tmp_path, pull_request(12, [commit], merge, reviews))
    result = apply(run, repo, "--approvals", str(path))
    assert result.exit_code == 0, result.output
    entry = json.loads((repo / "ledger/req-a.json").read_text())
    assert entry["declaredIn"] == commit
    assert entry["approval"] == {
        "pullRequest": 12,
        "url": "https://github.com/acme/privacy-requests/pull/12",
        "author": "priya",
        "mergedBy": "rui",
        "mergedAt": "2026-11-22T16:30:00Z",
        "mergeCommit": merge,
        "approvedBy": ["rui"],
        "reviews": [
            {
                "reviewer": "rui",
                "state": "APPROVED",
                "submittedAt": "2026-11-22T16:25:00Z",
                "commit": commit,
            }
        ],
        "source": "reviews",
    }
    assert git(repo, "status", "--porcelain") == "", "the approval is in the ledger commit"

    audit = run("-C", str(repo), "audit", "req-a", "--format", "json")
    assert audit.exit_code == 0, audit.output
    events = json.loads(audit.output)["requests"][0]["events"]
    assert [(e["event"], e["author"], e["email"], e["pullRequest"]) for e in events] == [
        ("declared", "Priya", "priya@example.com", None),
        ("approved", "rui", None, 12),
        ("merged", "Rui", "rui@example.com", 12),
        ("applied", "reconciler-bot", "reconciler-bot@users.noreply.github.com", None),
        ("status", "reconciler-bot", "reconciler-bot@users.noreply.github.com", None),
    ]
    approved, merged = events[1], events[2]
    assert approved["date"] == "2026-11-22T16:25:00Z"
    assert approved["commit"] == merge
    assert approved["details"] == (
        f"pull request #12 by priya, merged by rui; reviewed commit {commit[:10]}; "
        "https://github.com/acme/privacy-requests/pull/12"
    )
    assert merged["details"] == (
        "merged into main: Merge pull request #12 from acme/add-req-a (merged by rui)"
    )

    table = run("-C", str(repo), "audit", "req-a")
    lines = table.output.splitlines()
    (approved_line,) = [line for line in lines if "  approved  " in line]
    assert approved_line == f"  2026-11-22 16:25:00  approved  {merge[:10]}  rui"
    (merged_line,) = [line for line in lines if "  merged  " in line]
    assert merged_line.endswith(f"merged    {merge[:10]}  Rui <rui@example.com>")
    detail = lines[lines.index(approved_line) + 1]
    assert detail.startswith("      pull request #12 by priya, merged by rui; reviewed commit")


def test_a_squash_merge_is_found_by_its_merge_commit(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    start(repo)
    commit, squash = squash_pull_request(repo, "add-req-c", "req-c", 13)
    reviews = [review("rui", "APPROVED", commit, "2026-11-22T16:25:00Z")]
    path = approvals_file(tmp_path, pull_request(13, [commit], squash, reviews))
    result = apply(run, repo, "--approvals", str(path))
    assert result.exit_code == 0, result.output
    entry = json.loads((repo / "ledger/req-c.json").read_text())
    assert entry["declaredIn"] == squash
    assert entry["approval"]["pullRequest"] == 13
    assert entry["approval"]["approvedBy"] == ["rui"]
    events = json.loads(run("-C", str(repo), "audit", "req-c", "--format", "json").output)[
        "requests"
    ][0]["events"]
    # The squash commit is the pull request's author's: the approval says who reviewed.
    assert [(e["event"], e["author"], e["pullRequest"]) for e in events] == [
        ("declared", "Priya", None),
        ("approved", "rui", 13),
        ("merged", "Priya", 13),
        ("applied", "reconciler-bot", None),
        ("status", "reconciler-bot", None),
    ]
    assert events[2]["details"] == (
        "merged into main (squashed): Add req-c opt-out (#13) (merged by rui)"
    )


def test_without_an_approvals_file_the_merge_still_names_its_pull_request(
    run, adobe, repo: Path
) -> None:
    start(repo)
    merge_pull_request(repo, "add-req-a", "req-a", 12)
    assert apply(run, repo).exit_code == 0
    entry = json.loads((repo / "ledger/req-a.json").read_text())
    assert "approval" not in entry
    events = json.loads(run("-C", str(repo), "audit", "req-a", "--format", "json").output)[
        "requests"
    ][0]["events"]
    assert [(e["event"], e["author"], e["pullRequest"]) for e in events] == [
        ("declared", "Priya", None),
        ("merged", "Rui", 12),
        ("applied", "reconciler-bot", None),
        ("status", "reconciler-bot", None),
    ]
    assert events[1]["details"] == "merged into main: Merge pull request #12 from acme/add-req-a"
    csv = run("-C", str(repo), "audit", "req-a", "--format", "csv").output.splitlines()
    assert csv[0] == "request,kind,event,date,commit,author,email,details", "csv keeps its columns"


# --- policy.requireApproval -----------------------------------------------------------------


def test_require_approval_refuses_a_self_approved_pull_request(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    start(repo, REQUIRE)
    commit, merge = merge_pull_request(repo, "add-req-a", "req-a", 12)
    reviews = [review("priya", "APPROVED", commit, "2026-11-22T16:20:00Z")]
    path = approvals_file(tmp_path, pull_request(12, [commit], merge, reviews))
    result = apply(run, repo, "--approvals", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "error: policy.requireApproval: refusing to create 1 request(s) without an approval "
        "by someone other than their pull request's author: req-a (pull request #12 has no "
        "approval by anyone but its author); merge them through a pull request that another "
        "person approves, and pass the pull requests' reviews with --approvals FILE (the apply "
        "workflow writes it). Nothing was applied"
    )
    assert writes(adobe) == [] and tagged_counts(adobe) == {}
    assert not (repo / "ledger").exists()


def test_require_approval_refuses_a_commit_in_no_pull_request_and_a_run_without_the_file(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    start(repo, REQUIRE)
    commit, merge = merge_pull_request(repo, "add-req-a", "req-a", 12)
    write(repo, "requests/req-b.yaml", CONSENT.format(name="req-b"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Straight to main")
    straight = head(repo)
    reviews = [review("rui", "APPROVED", commit, "2026-11-22T16:25:00Z")]
    path = approvals_file(tmp_path, pull_request(12, [commit], merge, reviews))
    result = apply(run, repo, "--approvals", str(path))
    assert result.exit_code == 1
    assert (
        f": req-b (commit {straight[:12]} is in no pull request of the file); merge them"
        in result.output
    )
    assert "refusing to create 1 request(s)" in result.output
    without = apply(run, repo)
    assert without.exit_code == 1
    assert "refusing to create 2 request(s)" in without.output
    assert ": req-a (no approvals file); req-b (no approvals file); merge them" in without.output
    assert writes(adobe) == [] and tagged_counts(adobe) == {}


def test_require_approval_passes_an_approved_pull_request(
    run, adobe, repo: Path, tmp_path: Path
) -> None:
    start(repo, REQUIRE)
    commit, merge = merge_pull_request(repo, "add-req-a", "req-a", 12)
    reviews = [
        review("priya", "APPROVED", commit, "2026-11-22T16:20:00Z"),
        review("rui", "APPROVED", commit, "2026-11-22T16:25:00Z"),
    ]
    path = approvals_file(tmp_path, pull_request(12, [commit], merge, reviews))
    result = apply(run, repo, "--approvals", str(path))
    assert result.exit_code == 0, result.output
    assert tagged_counts(adobe) == {"req-a": 1}
    entry = json.loads((repo / "ledger/req-a.json").read_text())
    assert entry["approval"]["approvedBy"] == ["rui"]
    # Nothing left to create: the policy has nothing to refuse, with or without the file.
    again = apply(run, repo)
    assert again.exit_code == 0, again.output
    assert tagged_counts(adobe) == {"req-a": 1}


def test_require_approval_is_off_by_default(run, adobe, repo: Path) -> None:
    write(repo, "requests/req-a.yaml", RECORD_DELETE.format(name="req-a"))
    start(repo)
    assert apply(run, repo).exit_code == 0
    assert tagged_counts(adobe) == {"req-a": 1}


# --- validate --base: turning the policy off moves trust ------------------------------------


@pytest.mark.parametrize(
    ("after", "line"),
    [
        pytest.param("policy:\n  requireApproval: false\n", "5:3", id="turned-off"),
        pytest.param("policy: {}\n", "4:9", id="removed"),
    ],
)
def test_turning_require_approval_off_is_flagged(run, repo: Path, after: str, line: str) -> None:
    start(repo, REQUIRE)
    git(repo, "checkout", "-q", "-b", "loosen")
    write(repo, "reconciler.yaml", REQUIRE.split("policy:")[0] + after)
    git(repo, "commit", "-qam", "Loosen the policy")
    result = run("-C", str(repo), "validate", "--base", "main")
    assert result.exit_code == 1
    assert (
        "policy.requireApproval turned off since main: apply would create requests nobody but "
        "their author approved, this one's included; restore true, or have a maintainer merge "
        "the change on its own (policy-loosened)"
    ) in result.output
    assert f"reconciler.yaml:{line}:" in result.output


def test_turning_require_approval_on_is_not_flagged(run, repo: Path) -> None:
    start(repo, "scope: testrepo\n")
    git(repo, "checkout", "-q", "-b", "tighten")
    write(repo, "reconciler.yaml", "scope: testrepo\npolicy:\n  requireApproval: true\n")
    git(repo, "commit", "-qam", "Require approvals")
    result = run("-C", str(repo), "validate", "--base", "main")
    assert result.exit_code == 0, result.output
