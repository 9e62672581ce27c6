"""What every command that talks to Adobe starts from: settings, valid requests, ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.adobe import AdobeClient
from reconciler.check.validation import discover, load_requests
from reconciler.errors import ReconcilerError
from reconciler.git.ledgerbranch import attach, load_ledger
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


def last_commits(root: Path, folder: Path) -> dict[str, str]:
    """The commit that last changed each file under ``folder``, by path relative to
    ``root``: one pass over history instead of one git call per file."""
    try:
        repo = git.Repo(root, search_parent_directories=True)
        top = Path(repo.working_dir).resolve()
        rel = folder.resolve().relative_to(top).as_posix()
        out = repo.git.log("--format=%x00%H", "--name-only", "--", rel)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError):
        return {}
    prefix = root.resolve().relative_to(top).as_posix()
    found: dict[str, str] = {}
    for chunk in out.split("\x00")[1:]:
        sha, _, names = chunk.partition("\n")
        for name in names.split():
            shown = name if prefix == "." else str(Path(name).relative_to(prefix).as_posix())
            found.setdefault(shown, sha.strip())
    return found
