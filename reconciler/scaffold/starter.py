"""Starting a repository of privacy requests: the files ``reconciler init`` writes.

Flags in, files out. :func:`make_options` checks the flags; :func:`starter_files`
renders every file from what the package carries (the templates in
``reconciler/scaffold/templates``, the example requests, the JSON schemas, the workflows
of :mod:`reconciler.scaffold.workflows`), so a wheel starts the same repository as a
checkout. Writing them is :mod:`reconciler.scaffold.install`. Nothing here prints.

``reconciler.yaml`` gets the repository's ``scope`` (:func:`scope_for`): the one
it names already, else the one the repository tags with already, else a new
random one.

Exception tree::

    ReconcilerError
    ├── UsageError      a flag is malformed (exit 2)
    └── StarterError    files are in the way, or cannot be written (exit 1)
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reconciler.check.validation import discover, load_file
from reconciler.errors import ReconcilerError, UsageError
from reconciler.kinds import Kind, RequestKind
from reconciler.reconcile.tagging import Scope
from reconciler.repository import SETTINGS_FILE
from reconciler.scaffold.files import DEFAULT_FOLDERS
from reconciler.scaffold.workflows import DEFAULT_ACTION, render_workflows
from reconciler.schemas import check, examples_dir, schema_dir
from reconciler.settings import DERIVED_SCOPE_DIGITS, Limits, derive_scope
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
    scope: str
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


def new_scope() -> str:
    """A scope for a repository that has none yet: random, since anything derived from a
    name or a first commit is shared by the copies and forks of a starter repository."""
    return secrets.token_hex(DERIVED_SCOPE_DIGITS // 2)


def scope_for(directory: Path) -> str:
    """The scope init writes in ``directory``: the one its reconciler.yaml names already
    (a second run changes nothing, and --force never changes what the applied objects are
    tagged with), else the one its repository tags with already (derived from the root
    commit: a repository applied from before scopes keeps its tags), else a new one.

    Raises :class:`~reconciler.errors.SettingsError` in a shallow clone without a scope:
    a new one there could orphan everything applied."""
    path = directory / SETTINGS_FILE
    try:
        data = parse_document(SETTINGS_FILE, path.read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, ParseError):
        data = None
    named = data.get("scope") if isinstance(data, dict) else None
    if isinstance(named, str) and not check("settings.schema.json", {"scope": named}):
        return named
    return derive_scope(directory) or new_scope()


def make_options(
    *,
    scope: str,
    org_id: str | None = None,
    sandbox: str | None = None,
    ledger_branch: str | None = None,
    ledger_in_tree: bool = False,
    action: str | None = None,
) -> Options:
    """Check the flags of ``reconciler init``; raise :class:`UsageError` on the first bad one.
    ``scope`` comes from :func:`scope_for`."""
    Scope(scope)  # a malformed one is a bug of the caller: ValueError
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
        scope=scope,
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
            "SCOPE": _scalar(options.scope),  # 12345678 or null would not read as strings
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
