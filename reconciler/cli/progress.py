"""A progress bar on a terminal, nothing when output is piped or in CI logs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[], None]]:
    """Yields ``advance()``; draws on stderr only when it is a terminal."""
    if total == 0 or not sys.stderr.isatty():
        yield lambda: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)
