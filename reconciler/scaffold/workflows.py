"""The GitHub Actions workflows of a requests repository: check, apply and status.

One set of templates (package data, ``templates/workflows/``) serves both the
repositories ``reconciler init`` starts, whose workflows use the released action
pinned to this version, and the tool's own repository, whose workflows use the
action in its checkout (``./``) and also check changes to the tool itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

from reconciler import __version__

# Where the action and the pre-commit hooks are published.
ACTION_REPOSITORY = "aep-privacy-reconciler/reconciler"
DEFAULT_ACTION = f"{ACTION_REPOSITORY}@v{__version__}"
NAMES = ("reconciler-check.yml", "reconciler-apply.yml", "reconciler-status.yml")
# What the pull-request check looks at in any requests repository. The in-tree ledger
# folder too when the ledger has a branch of its own: a pull request that writes ledger
# files there is a finding of the check, which must run to report it.
CHECKED_PATHS = ("requests/", "reconciler.yaml", ".github/workflows/reconciler-*.yml")
IN_TREE_LEDGER = "ledger/"
_ACTION = re.compile(r"^(\./|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[A-Za-z0-9_./-]+)$")
_PATHSPEC = re.compile(r"^[A-Za-z0-9_.*/-]+$")


def render_workflows(
    action: str = DEFAULT_ACTION,
    ledger_branch: str | None = None,
    extra_paths: Sequence[str] = (),
) -> dict[str, str]:
    """The three workflow files, by file name.

    ``action`` is what their ``uses:`` lines install the tool with (``OWNER/REPO@REF``,
    or ``./`` in the tool's own repository); ``ledger_branch`` drops the in-tree
    ledger folder from what triggers the apply job; ``extra_paths`` are more pathspecs
    whose changes the pull-request check must look at.
    """
    if not _ACTION.match(action):
        raise ValueError(f"not an action reference: {action!r}")
    paths = [*CHECKED_PATHS, IN_TREE_LEDGER, *extra_paths]
    bad = [p for p in paths if not _PATHSPEC.match(p)]
    if bad:
        raise ValueError(f"not a plain pathspec: {bad[0]!r}")
    folder = resources.files("reconciler.scaffold") / "templates" / "workflows"
    out = {}
    for name in NAMES:
        text = (folder / name).read_text(encoding="utf-8")
        text = text.replace("@ACTION@", action).replace(
            "@PATHS@", " ".join(f"'{p}'" for p in paths)
        )
        if ledger_branch:
            text = text.replace('      - "ledger/**"\n', "")
        out[name] = text
    return out


# The tool's own repository checks its requests with the tool in its checkout: a change to
# the tool, its schemas or its locks must run the check too.
TOOL_PATHS = (
    "reconciler/",
    "schemas/",
    "pyproject.toml",
    "requirements.lock",
    "requirements.runtime.lock",
    "action.yml",
)


def own_workflows() -> dict[str, str]:
    """The tool repository's own workflows (``make workflows`` writes them).

    zizmor's self-repository hint (a low finding) would have ``$/``; ``./`` is the form
    GitHub's workflow schema and every runner version know.
    """
    return {
        name: text.replace("uses: ./\n", "uses: ./ # zizmor: ignore[self-repository]\n")
        for name, text in render_workflows("./", None, TOOL_PATHS).items()
    }
