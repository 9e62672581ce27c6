"""Starting a repository of privacy requests: the files ``reconciler init`` writes.

Flags in, files out. :func:`make_options` checks the flags; :func:`starter_files`
renders every file from what the package carries (the templates in
``reconciler/scaffold/templates``, the example requests, the JSON schemas, the workflows
of :mod:`reconciler.scaffold.workflows`), so a wheel starts the same repository as a
checkout; :func:`write_starter` compares them with what is on disk and writes
them, each atomically, only once it knows that none is in the way. Nothing here
prints; :func:`next_steps` says what is left to do, as text for the CLI.

Exception tree::

    ReconcilerError
    ├── UsageError      a flag is malformed (exit 2)
    └── StarterError    files are in the way, or cannot be written (exit 1)
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

from reconciler.check.validation import discover, display_path, load_file
from reconciler.errors import ReconcilerError, UsageError
from reconciler.kinds import Kind, RequestKind
from reconciler.reconcile.ledger import atomic_write
from reconciler.repository import SETTINGS_FILE
from reconciler.scaffold.files import DEFAULT_FOLDERS
from reconciler.scaffold.workflows import DEFAULT_ACTION, render_workflows
from reconciler.schemas import check, examples_dir, schema_dir
from reconciler.settings import Limits
from reconciler.yamlfile import ParseError, parse_document

DEFAULT_LEDGER_BRANCH = "reconciler-ledger"
REQUESTS_DIR = "requests"
SCHEMAS_DIR = "schemas"
WORKFLOWS_DIR = ".github/workflows"
# Branches the requests are merged to: the ledger branch must be another one.
_MAIN_BRANCHES = ("main", "master")
_MODELINE = "# yaml-language-server: $schema="
_TOKEN = re.compile(r"@([A-Z_]+)@")
# GitHub's rules for owner and repository names; a ref as git allows it in a tag or branch.
_ACTION = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<repo>[A-Za-z0-9._-]{1,100})"
    r"@(?P<ref>[A-Za-z0-9._/-]{1,255})"
)
_ORG_ID = re.compile(r"[A-Za-z0-9]+@AdobeOrg")
_SANDBOX = re.compile(r"[a-z0-9-]+")
_EXAMPLE_NOTE = (
    "# An example written by `reconciler init`: make it a real request or delete it before\n"
    "# the first merge to main, since merging applies every request under requests/ at Adobe.\n"
)


_COMMIT = re.compile(r"[0-9a-f]{40}")


class StarterError(ReconcilerError):
    """The repository cannot be started as asked."""


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """The reconciler release a repository is pinned to: ``OWNER/REPO@REF``."""

    owner: str
    repo: str
    ref: str

    @classmethod
    def parse(cls, text: str) -> Action:
        match = _ACTION.fullmatch(text)
        if (
            match is None
            or match["repo"] in (".", "..")
            or ".." in match["ref"]
            or match["ref"].startswith(("/", "-"))
            or match["ref"].endswith(("/", ".lock"))
        ):
            raise UsageError(
                f"--action {text!r} must read OWNER/REPO@REF (a GitHub repository and a tag, "
                "branch or commit), e.g. my-org/reconciler@v1.0.0"
            )
        return cls(match["owner"], match["repo"], match["ref"])

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.repo}"

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}@{self.ref}"


@dataclass(frozen=True)
class Options:
    """What the new repository is set up for; ``ledger_branch`` None keeps the ledger in
    main's own tree."""

    action: Action
    org_id: str | None = None
    sandbox: str | None = None
    ledger_branch: str | None = DEFAULT_LEDGER_BRANCH


def _check_ledger_branch(branch: str) -> str:
    if branch in _MAIN_BRANCHES:
        raise UsageError(
            f"--ledger-branch must not be {branch}: the ledger branch is written by the apply "
            "and status jobs, apart from the branch the requests are merged to"
        )
    # The settings schema's own rule, so that init never writes a branch that loading refuses.
    if check("settings.schema.json", {"ledger": {"branch": branch}}):
        raise UsageError(
            f"--ledger-branch {branch!r} must be a plain branch name (letters, digits, . _ / -, "
            "no '..', no leading or trailing '/'), e.g. reconciler-ledger"
        )
    return branch


def make_options(
    *,
    org_id: str | None = None,
    sandbox: str | None = None,
    ledger_branch: str | None = None,
    ledger_in_tree: bool = False,
    action: str | None = None,
) -> Options:
    """Check the flags of ``reconciler init``; raise :class:`UsageError` on the first bad one."""
    if org_id is not None and not _ORG_ID.fullmatch(org_id):
        raise UsageError(
            f"--org-id {org_id!r} must be an IMS organisation id ending in @AdobeOrg, "
            "e.g. 0123456789ABCDEF01234567@AdobeOrg"
        )
    if sandbox is not None and not _SANDBOX.fullmatch(sandbox):
        raise UsageError(
            f"--sandbox {sandbox!r} must be a sandbox name: lower-case letters, digits and "
            "hyphens, e.g. prod"
        )
    if ledger_in_tree and ledger_branch is not None:
        raise UsageError("--ledger-branch and --ledger-in-tree exclude each other: pick one")
    branch = (
        None if ledger_in_tree else _check_ledger_branch(ledger_branch or DEFAULT_LEDGER_BRANCH)
    )
    return Options(
        action=Action.parse(DEFAULT_ACTION if action is None else action),
        org_id=org_id,
        sandbox=sandbox,
        ledger_branch=branch,
    )


# -- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StarterFile:
    """One file of the new repository: its path there (with slashes) and its text."""

    path: str
    text: str


def templates_dir() -> Path:
    """The package's templates (inside the package folder: a wheel carries them as is)."""
    return Path(str(resources.files("reconciler.scaffold") / "templates"))


def _render(template: str, values: Mapping[str, str]) -> str:
    """The template with each ``@NAME@`` replaced; a name without a value, or a value
    without its name, is a bug in this module."""
    text = (templates_dir() / template).read_text(encoding="utf-8")
    used = set(_TOKEN.findall(text))
    if used != set(values):
        raise RuntimeError(f"template {template} names {sorted(used)}, given {sorted(values)}")
    return _TOKEN.sub(lambda m: values[m[1]], text)


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it reads back as the same string, else quoted
    (a sandbox named ``123`` or a branch named ``true`` must stay strings)."""
    try:
        plain = parse_document("value", f"v: {value}\n").data
    except ParseError:
        plain = None
    return value if plain == {"v": value} else json.dumps(value)


def _adobe_section(options: Options) -> str:
    """The adobe section, a missing value as a commented-out line under a TODO."""
    fields = (
        ("orgId", options.org_id, "0123456789ABCDEF01234567@AdobeOrg", "the IMS organisation "
         "id (Admin Console, …@AdobeOrg), or set ADOBE_ORG_ID"),
        ("sandboxName", options.sandbox, "prod", "the sandbox name (lower-case, e.g. prod), "
         "or set ADOBE_SANDBOX_NAME"),
    )  # fmt: skip
    if not (options.org_id or options.sandbox):
        # An `adobe:` key with nothing under it is null, which the settings schema refuses.
        todos = [f"# TODO: {hint}" for _, _, _, hint in fields]
        return "\n".join([*todos, "# adobe:", *(f"#   {k}: {e}" for k, _, e, _ in fields)])
    lines = ["adobe:"]
    for key, value, example, hint in fields:
        if value:
            lines.append(f"  {key}: {_scalar(value)}")
        else:
            lines += [f"  # TODO: {hint}", f"  # {key}: {example}"]
    return "\n".join(lines)


def _ledger_section(options: Options) -> str:
    if options.ledger_branch is None:
        return (
            "# The ledger is kept in the ledger folder of main itself: the apply job commits it\n"
            "# there and pushes to main. That suits a repository without branch protection on\n"
            "# main only; with protection, keep it on a branch of its own, which only the apply\n"
            "# and status jobs push to:\n"
            "# ledger:\n"
            f"#   branch: {DEFAULT_LEDGER_BRANCH}"
        )
    return (
        "# The ledger is kept on a branch of its own, which only the apply and status jobs push\n"
        "# to: main can then be protected (reviews required, no direct pushes). Pull-request\n"
        "# checks, plan, status and audit read it from there.\n"
        "ledger:\n"
        f"  branch: {_scalar(options.ledger_branch)}"
    )


def _settings_text(options: Options) -> str:
    limits = Limits()
    text = _render(
        SETTINGS_FILE,
        {
            "ADOBE": _adobe_section(options),
            "LEDGER": _ledger_section(options),
            "MAX_IDENTITIES_PER_REQUEST": str(limits.max_identities_per_request),
            "MAX_IDENTITIES_PER_RUN": str(limits.max_identities_per_run),
        },
    )
    # What init writes must load: a finding here is a bug in this module or its template.
    errors = check("settings.schema.json", parse_document(SETTINGS_FILE, text).data)
    if errors:
        raise RuntimeError(f"init's {SETTINGS_FILE} fails its schema: {errors[0].message}")
    return text


def _example_files() -> list[StarterFile]:
    """One example request of each kind, in the folders ``reconciler new`` uses, its
    modeline pointing at the schemas copied next to it. A kind with several examples
    gets one naming a dataset over one deleting from all of them."""
    found: dict[RequestKind, list[tuple[bool, str, str]]] = {}
    root = examples_dir()
    for path in discover([root]):
        request, findings = load_file(path, root)
        if request is None or findings:
            raise RuntimeError(f"packaged example {path} does not validate")
        every_dataset = request.spec.get("datasetId") == "ALL"
        found.setdefault(request.kind, []).append(
            (every_dataset, path.name, path.read_text(encoding="utf-8"))
        )
    files = []
    for kind in Kind:
        if kind not in found:
            raise RuntimeError(f"the package holds no example of kind {kind.value}")
        _, name, text = min(found[kind])
        modeline = f"{_MODELINE}../../{SCHEMAS_DIR}/request.schema.json\n"
        first, _, rest = text.partition("\n")
        body = rest if first.startswith(_MODELINE) else text
        target = f"{REQUESTS_DIR}/{DEFAULT_FOLDERS[kind]}/{name}"
        files.append(StarterFile(target, modeline + _EXAMPLE_NOTE + body))
    return files


def _policies(options: Options) -> str:
    """zizmor's pinning policy: commits everywhere, the action's tag allowed unless it is
    pinned to a commit itself."""
    lines = []
    if not _COMMIT.fullmatch(options.action.ref):
        lines.append(
            f"        {json.dumps(options.action.owner + '/' + options.action.repo)}: ref-pin"
        )
    lines.append('        "*": hash-pin')
    return "\n".join(lines)


def starter_files(options: Options) -> tuple[StarterFile, ...]:
    """Every file of a new repository of privacy requests, sorted by path."""
    files = [
        StarterFile(SETTINGS_FILE, _settings_text(options)),
        StarterFile(".gitignore", _render("gitignore", {})),
        StarterFile(".github/CODEOWNERS", _render("CODEOWNERS", {})),
        StarterFile(".github/zizmor.yml", _render("zizmor.yml", {"POLICIES": _policies(options)})),
        StarterFile(
            ".pre-commit-config.yaml",
            _render(
                "pre-commit-config.yaml",
                {"REPO_URL": options.action.url, "REV": _scalar(options.action.ref)},
            ),
        ),
        *_example_files(),
    ]
    # Every schema: request.schema.json, which the examples name, refers to the others.
    for path in sorted(schema_dir().glob("*.json")):
        files.append(StarterFile(f"{SCHEMAS_DIR}/{path.name}", path.read_text(encoding="utf-8")))
    for name, text in render_workflows(str(options.action), options.ledger_branch).items():
        if "/" in name or name in ("", ".", ".."):
            raise RuntimeError(f"render_workflows returned {name!r}, not a file name")
        files.append(StarterFile(f"{WORKFLOWS_DIR}/{name}", text))
    return tuple(sorted(files, key=lambda f: f.path))


# -- writing ---------------------------------------------------------------------------------


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
