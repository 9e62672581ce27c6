"""PATH arguments shared by the commands that take them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click


def resolve_paths(cwd: Path, paths: Sequence[Path]) -> list[Path]:
    """PATH arguments, relative ones from where the command started (``-C`` or the current
    directory, as a shell completes them); refuse those that do not exist."""
    resolved = [p if p.is_absolute() else cwd / p for p in paths]
    missing = [str(p) for p, r in zip(paths, resolved, strict=True) if not r.exists()]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="PATH")
    return resolved
