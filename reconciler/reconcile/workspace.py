"""What every command that talks to Adobe starts from: settings, valid requests, ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.adobe import AdobeClient
from reconciler.check.validation import discover, load_requests
from reconciler.errors import ReconcilerError
from reconciler.git import history
from reconciler.git.ledgerbranch import attach, load_ledger
from reconciler.git.repo import find_repo, relative
from reconciler.model import Request
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.remote import adobe_config
from reconciler.settings import Settings, load_settings

SHOWN_FINDINGS = 5


class InvalidRequestsError(ReconcilerError):
    """Request files have findings: nothing is planned or sent until they are fixed."""


@dataclass(frozen=True)
class Workspace:
    settings: Settings
    requests: tuple[Request, ...]
    ledger: Ledger

    @property
    def by_name(self) -> dict[str, Request]:
        return {r.name: r for r in self.requests}

    def client(self, env: Mapping[str, str]) -> AdobeClient:
        return AdobeClient(adobe_config(self.settings, env))


def open_workspace(
    root: Path, env: Mapping[str, str], settings: Settings | None = None
) -> Workspace:
    """Load and validate every request; refuse to go on when any file has a finding.

    The ledger is read from wherever the settings keep it (its own branch or this tree).
    """
    settings = attach(settings or load_settings(root, env))
    loaded = load_requests(discover([settings.requests_path]), settings)
    if loaded.findings:
        shown = "\n  ".join(
            f"{f.path}:{f.line}:{f.column}: {f.message} ({f.rule})"
            for f in loaded.findings[:SHOWN_FINDINGS]
        )
        more = len(loaded.findings) - SHOWN_FINDINGS
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise InvalidRequestsError(
            f"request files have {len(loaded.findings)} finding(s); nothing was planned or "
            f"sent. Fix them (reconciler validate lists all):\n  {shown}{tail}"
        )
    ledger = load_ledger(settings)
    return Workspace(settings, loaded.requests, ledger)


def declared_times(root: Path, folder: Path) -> dict[str, int]:
    """When each file under ``folder`` was added (a commit's Unix time), by path relative
    to ``root``; empty outside git and before the first commit."""
    repo = find_repo(root)
    if repo is None or not folder.resolve().is_relative_to(repo.top):
        return {}
    prefix = PurePosixPath(relative(repo, root))
    return {
        PurePosixPath(path).relative_to(prefix).as_posix(): when
        for path, when in history.added_at(repo, relative(repo, folder)).items()
        if PurePosixPath(path).is_relative_to(prefix)
    }


def last_commits(root: Path, folder: Path) -> dict[str, str]:
    """The commit that last changed each file under ``folder``, by path relative to
    ``root`` (a request's ``path``); empty outside git and before the first commit."""
    repo = find_repo(root)
    if repo is None or not folder.resolve().is_relative_to(repo.top):
        return {}
    prefix = PurePosixPath(relative(repo, root))  # "." has no parts: every path is under it
    return {
        PurePosixPath(path).relative_to(prefix).as_posix(): sha
        for path, sha in history.last_commits(repo, relative(repo, folder)).items()
        if PurePosixPath(path).is_relative_to(prefix)
    }
