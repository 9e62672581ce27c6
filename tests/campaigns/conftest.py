"""Figures of the campaigns: each records its numbers; they are printed at the end of the run
and written to ``campaign-figures.json`` in pytest's base temporary directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIGURES = pytest.StashKey[dict[str, dict[str, Any]]]()
FIGURES_FILE = pytest.StashKey[Path]()


@pytest.fixture
def figures(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, dict[str, Any]], None]:
    """``figures(campaign, numbers)``: keep a campaign's numbers for the report."""
    config = request.config
    store = config.stash.setdefault(FIGURES, {})
    path = tmp_path_factory.getbasetemp() / "campaign-figures.json"
    config.stash[FIGURES_FILE] = path

    def record(campaign: str, numbers: dict[str, Any]) -> None:
        store[campaign] = numbers
        path.write_text(json.dumps(store, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    return record


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    store = config.stash.get(FIGURES, None)
    if not store:
        return
    terminalreporter.section("campaign figures")
    for campaign, numbers in sorted(store.items()):
        terminalreporter.write_line(f"{campaign}: {json.dumps(numbers, sort_keys=True)}")
    terminalreporter.write_line(f"(also in {config.stash[FIGURES_FILE]})")
