"""Writing the files ``reconciler init`` renders (:mod:`reconciler.scaffold.starter`).

:func:`write_starter` compares them with what is on disk and writes them, each
atomically, only once it knows that none is in the way; :func:`next_steps` says
what is left to do, as text for the CLI. Nothing here prints.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from reconciler.check.validation import display_path
from reconciler.reconcile.ledger import atomic_write
from reconciler.repository import SETTINGS_FILE
from reconciler.scaffold.starter import Options, StarterError, StarterFile


class Change(Enum):
    """What init does to one file."""

    CREATE = "create"
    REPLACE = "replace"
    KEEP = "keep"  # already as init writes it


@dataclass(frozen=True)
class Written:
    path: str
    change: Change


@dataclass(frozen=True)
class Outcome:
    """What :func:`write_starter` did, and where."""

    directory: Path
    files: tuple[Written, ...]
    repository: Path | None  # the top of the git work tree holding ``directory``, if any

    @property
    def changed(self) -> tuple[Written, ...]:
        return tuple(f for f in self.files if f.change is not Change.KEEP)


def repository_root(directory: Path) -> Path | None:
    """The top of the git work tree that holds ``directory`` (where ``.git`` is), if any."""
    for folder in (directory, *directory.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _changes(
    directory: Path, files: Sequence[StarterFile], force: bool, display_root: Path
) -> tuple[Written, ...]:
    """What writing ``files`` would do, or the one error naming every file in the way."""

    def shown(path: Path) -> str:
        return display_path(path, display_root)

    blocked: list[str] = []
    different: list[str] = []
    changes: list[Written] = []
    for planned in files:
        target = directory / planned.path
        for parent in reversed(Path(planned.path).parents[:-1]):
            folder = directory / parent
            if folder.exists() and not folder.is_dir():
                blocked.append(f"{shown(folder)} is a file, not a folder")
                break
        else:
            if target.is_dir():
                blocked.append(f"{shown(target)} is a folder")
            elif target.exists() or target.is_symlink():
                try:
                    same = target.read_bytes() == planned.text.encode("utf-8")
                except OSError as e:
                    raise StarterError(f"cannot read {shown(target)}: {e.strerror or e}") from None
                if same:
                    changes.append(Written(planned.path, Change.KEEP))
                else:
                    different.append(shown(target))
                    changes.append(Written(planned.path, Change.REPLACE))
            else:
                changes.append(Written(planned.path, Change.CREATE))
    if blocked:
        raise StarterError(
            f"nothing written: {'; '.join(dict.fromkeys(blocked))}; move "
            f"{'it' if len(blocked) == 1 else 'them'} aside and run init again"
        )
    if different and not force:
        raise StarterError(
            f"nothing written: {_plural(len(different), 'file', 'files')} already "
            f"{'exists' if len(different) == 1 else 'exist'} and "
            f"{'differs' if len(different) == 1 else 'differ'} from what init writes: "
            f"{', '.join(different)}; pass --force to replace "
            f"{'it' if len(different) == 1 else 'them'}, or move "
            f"{'it' if len(different) == 1 else 'them'} aside"
        )
    return tuple(changes)


def write_starter(
    directory: Path,
    files: Sequence[StarterFile],
    force: bool = False,
    display_root: Path | None = None,
) -> Outcome:
    """Write ``files`` under ``directory`` (created if missing), each atomically.

    Every file is checked before the first is written: a file that exists and differs
    (unless ``force``), or a folder where a file goes, refuses them all. Files already as
    init writes them are left untouched. Paths in messages are relative to
    ``display_root`` (default: ``directory``)."""
    directory = directory.resolve()
    display_root = directory if display_root is None else display_root
    if directory.exists() and not directory.is_dir():
        raise StarterError(f"{display_path(directory, display_root)} is a file, not a folder")
    changes = _changes(directory, files, force, display_root)
    texts = {f.path: f.text for f in files}
    for written in changes:
        if written.change is Change.KEEP:
            continue
        target = directory / written.path
        try:
            atomic_write(target, texts[written.path])
        except OSError as e:
            shown = display_path(target, display_root)
            raise StarterError(f"cannot write {shown}: {e.strerror or e}") from None
    return Outcome(directory, changes, repository_root(directory))


# -- what is left to do ----------------------------------------------------------------------


def next_steps(outcome: Outcome, options: Options, display_root: Path) -> list[str]:
    """What a person does next, one step a line, for the CLI to print."""
    steps: list[str] = []
    where = display_path(outcome.directory, display_root)
    cd = "" if outcome.directory == display_root.resolve() else f"cd {shlex.quote(where)} && "
    tops = sorted({Path(f.path).parts[0] for f in outcome.files})
    commit = f"git add {' '.join(tops)} && git commit -m 'Start privacy requests as code'"
    if outcome.repository == outcome.directory:
        steps.append(f"commit the files: {cd}{commit}")
    else:
        steps.append(f"make it a git repository: {cd}git init -b main && {commit}")
    todo = [
        (key, env)
        for key, env, value in (
            ("adobe.orgId", "ADOBE_ORG_ID", options.org_id),
            ("adobe.sandboxName", "ADOBE_SANDBOX_NAME", options.sandbox),
        )
        if not value
    ]
    if todo:
        keys = ", ".join(key for key, _ in todo)
        secrets = " and ".join(env for _, env in todo)
        steps.append(
            f"fill in the TODO in {SETTINGS_FILE} ({keys}), or set the Actions "
            f"{'secret' if len(todo) == 1 else 'secrets'} {secrets} instead"
        )
    steps.append(
        "push it to GitHub and add the Actions secrets ADOBE_CLIENT_ID and ADOBE_CLIENT_SECRET "
        "of a server-to-server credential (gh secret set ADOBE_CLIENT_ID, "
        "gh secret set ADOBE_CLIENT_SECRET); never put them in a file"
    )
    if options.ledger_branch is not None:
        steps.append(
            "protect main: require a pull request, an approving review and the reconciler "
            f"check; leave {options.ledger_branch} open to GitHub Actions, whose apply and "
            "status jobs push the ledger there"
        )
    else:
        steps.append(
            "the apply job pushes the ledger to main, so main must let GitHub Actions push; "
            "to protect main instead, run init again with --force and without --ledger-in-tree "
            "(the ledger then gets a branch of its own)"
        )
    steps.append(
        "name your privacy team in .github/CODEOWNERS, uncomment its lines, and require "
        "review from code owners"
    )
    steps.append(
        "replace the example requests under requests/ with real ones (reconciler new --help) "
        "and open your first pull request: the check validates it and shows the plan; "
        "merging applies it"
    )
    return steps


def git_note(outcome: Outcome, display_root: Path) -> str | None:
    """A warning when ``directory`` is inside a git repository but not at its top."""
    if outcome.repository is None or outcome.repository == outcome.directory:
        return None
    top = display_path(outcome.repository, display_root)
    return (
        f"{display_path(outcome.directory, display_root)} is inside the git repository {top}, "
        "not at its top, and GitHub reads .github/ at the top of a repository only: run "
        "init there, or make this folder a repository of its own"
    )
