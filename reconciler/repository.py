"""Where a repository of requests is: found from any folder in it, as git finds its own.

Kept free of heavy imports: the command line calls it before every command.
"""

from __future__ import annotations

from pathlib import Path

SETTINGS_FILE = "reconciler.yaml"


def find_root(start: Path) -> Path:
    """The repository ``start`` is in: the nearest folder up holding ``reconciler.yaml``,
    else the top of the git work tree, else ``start`` itself. The search never leaves the
    git work tree ``start`` is in."""
    for folder in (start, *start.parents):
        if (folder / SETTINGS_FILE).is_file() or (folder / ".git").exists():
            return folder
    return start
