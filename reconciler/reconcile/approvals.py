"""Approvals: which pull request brought a request to the main line, and who approved it.

Two sources, kept apart from who merged:

* The approvals file (``apply --approvals FILE``, ``schemas/approvals.schema.json``),
  which the apply workflow writes from GitHub's API before Apply: each pull request
  with its author, who merged it, its merge commit, its commits and its reviews. It is
  untrusted input, checked against its schema before anything is read from it
  (:func:`load_approvals`). What it says about a request applied in the run is recorded
  in the request's ledger entry (:class:`Approval`, ``"source": "reviews"``).
* The merge commit's subject, as GitHub writes it (:func:`pull_request_of`):
  ``Merge pull request #12 from owner/branch`` for a merge commit, ``Title (#12)`` for a
  squash merge. It names the pull request, never who approved it.

A reviewer approves when their latest review that approves, requests changes or was
dismissed is an approval, as GitHub counts them (:meth:`PullRequest.approvers`); the pull
request's author never counts, whatever the file says.

``policy.requireApproval`` (:func:`unapproved`) refuses to create a request whose
declaring commit is in no pull request of the file, or in one nobody but its author
approved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.schemas import check

APPROVALS_VERSION = 1
SCHEMA = "approvals.schema.json"
# The file is written by a workflow step from GitHub's answers: a few MB at most.
MAX_BYTES = 16 * 1024 * 1024
SOURCE_REVIEWS = "reviews"
# States that settle a reviewer's verdict; a comment leaves the previous one standing.
_VERDICTS = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")
_MERGE_SUBJECT = re.compile(r"\AMerge pull request #([0-9]{1,9}) from \S+")
_SQUASH_SUBJECT = re.compile(r"\(#([0-9]{1,9})\)\Z")


class ApprovalsError(ReconcilerError):
    """The approvals file is unreadable or does not match its schema."""


@dataclass(frozen=True)
class Review:
    reviewer: str
    state: str
    submitted_at: str | None = None
    commit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "state": self.state,
            "submittedAt": self.submitted_at,
            "commit": self.commit,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Review:
        return cls(doc["reviewer"], doc["state"], doc.get("submittedAt"), doc.get("commit"))


@dataclass(frozen=True)
class PullRequest:
    number: int
    author: str
    url: str = ""
    title: str = ""
    merged_by: str | None = None
    merged_at: str | None = None
    merge_commit: str | None = None
    commits: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = ()

    def brought(self, commit: str) -> bool:
        """Whether ``commit`` came to the main line with this pull request."""
        return commit == self.merge_commit or commit in self.commits

    def approvals(self) -> tuple[Review, ...]:
        """The standing approval of each reviewer other than the author, in the file's
        order: their latest review that approves, requests changes or was dismissed
        approves."""
        latest: dict[str, Review] = {}
        for review in self.reviews:
            if review.state in _VERDICTS and review.reviewer != self.author:
                latest.pop(review.reviewer, None)  # keep the order of the latest verdicts
                latest[review.reviewer] = review
        return tuple(r for r in latest.values() if r.state == "APPROVED")

    def approvers(self) -> tuple[str, ...]:
        return tuple(r.reviewer for r in self.approvals())

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PullRequest:
        return cls(
            number=doc["number"],
            author=doc["author"],
            url=doc.get("url", ""),
            title=doc.get("title", ""),
            merged_by=doc.get("mergedBy"),
            merged_at=doc.get("mergedAt"),
            merge_commit=doc.get("mergeCommit"),
            commits=tuple(doc["commits"]),
            reviews=tuple(Review.from_json(r) for r in doc["reviews"]),
        )


@dataclass(frozen=True)
class Approvals:
    """The pull requests of an approvals file."""

    pull_requests: tuple[PullRequest, ...] = ()

    def find(self, commit: str | None) -> PullRequest | None:
        """The pull request that brought ``commit`` (its merge commit first: a squash or
        merge commit is that pull request's own, whichever others list it)."""
        if not commit:
            return None
        by_merge = [p for p in self.pull_requests if p.merge_commit == commit]
        found = by_merge or [p for p in self.pull_requests if commit in p.commits]
        return found[0] if found else None

    def approval(self, commit: str | None) -> Approval | None:
        """What the ledger records of the pull request that brought ``commit``."""
        pr = self.find(commit)
        return None if pr is None else Approval.of(pr)


@dataclass(frozen=True)
class Approval:
    """What a ledger entry records of the pull request that brought its request."""

    pull_request: int
    author: str
    url: str = ""
    merged_by: str | None = None
    merged_at: str | None = None
    merge_commit: str | None = None
    approved_by: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = ()  # the approving reviews, for when and on what
    source: str = SOURCE_REVIEWS

    @classmethod
    def of(cls, pr: PullRequest) -> Approval:
        approving = pr.approvals()
        return cls(
            pull_request=pr.number,
            author=pr.author,
            url=pr.url,
            merged_by=pr.merged_by,
            merged_at=pr.merged_at,
            merge_commit=pr.merge_commit,
            approved_by=tuple(r.reviewer for r in approving),
            reviews=approving,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pullRequest": self.pull_request,
            "url": self.url,
            "author": self.author,
            "mergedBy": self.merged_by,
            "mergedAt": self.merged_at,
            "mergeCommit": self.merge_commit,
            "approvedBy": list(self.approved_by),
            "reviews": [r.to_json() for r in self.reviews],
            "source": self.source,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Approval:
        return cls(
            pull_request=doc["pullRequest"],
            author=doc["author"],
            url=doc.get("url", ""),
            merged_by=doc.get("mergedBy"),
            merged_at=doc.get("mergedAt"),
            merge_commit=doc.get("mergeCommit"),
            approved_by=tuple(doc.get("approvedBy", ())),
            reviews=tuple(Review.from_json(r) for r in doc.get("reviews", ())),
            source=doc.get("source", SOURCE_REVIEWS),
        )


def load_approvals(path: Path, shown: str | None = None) -> Approvals:
    """The approvals file at ``path``, checked against its schema; an
    :class:`ApprovalsError` naming the file (``shown``) and the first problem otherwise.
    Messages never repeat a value of the file."""
    shown = shown or str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ApprovalsError(
            f"{shown}: cannot read the approvals file ({e.strerror or e.__class__.__name__})"
        ) from None
    if len(raw) > MAX_BYTES:
        raise ApprovalsError(f"{shown}: the approvals file is over {MAX_BYTES:,} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ApprovalsError(
            f"{shown}: not a JSON approvals file ({e.__class__.__name__}); see "
            "schemas/approvals.schema.json"
        ) from None
    errors = check(SCHEMA, doc)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApprovalsError(
            f"{shown}: {errors[0].message}{more}; see schemas/approvals.schema.json"
        )
    return Approvals(tuple(PullRequest.from_json(p) for p in doc["pullRequests"]))


def pull_request_of(subject: str) -> int | None:
    """The pull request a merge commit's subject names, as GitHub writes it: ``Merge pull
    request #12 from owner/branch`` (merge commit) or ``Title (#12)`` (squash merge)."""
    match = _MERGE_SUBJECT.match(subject) or _SQUASH_SUBJECT.search(subject.rstrip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Unapproved:
    """A request policy.requireApproval refuses to create, and why."""

    name: str
    why: str


def unapproved(
    creates: Iterable[tuple[str, str | None]], approvals: Approvals | None
) -> list[Unapproved]:
    """The requests of ``creates`` (name, declaring commit) that no one but their pull
    request's author approved, or that came in no pull request of ``approvals``."""
    out = []
    for name, commit in creates:
        if approvals is None:
            out.append(Unapproved(name, "no approvals file"))
            continue
        pr = approvals.find(commit)
        if pr is None:
            where = f"commit {commit[:12]}" if commit else "no declaring commit"
            out.append(Unapproved(name, f"{where} is in no pull request of the file"))
        elif not pr.approvers():
            why = f"pull request #{pr.number} has no approval by anyone but its author"
            out.append(Unapproved(name, why))
    return out


def describe(refused: Sequence[Unapproved]) -> str:
    """One line naming each refused request and why."""
    return "; ".join(f"{u.name} ({u.why})" for u in refused)
