"""A large repository with exactly one bad file: found, located, and nothing else reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.check.validation import validate
from reconciler.settings import load_settings
from tests.conftest import CONSENT, write


def many(repo: Path, count: int) -> None:
    for i in range(count):
        write(repo, f"requests/{i % 50:02d}/r{i:05d}.yaml", CONSENT.format(name=f"r{i:05d}"))
    bad = CONSENT.format(name="r00777").replace("d@example.com", "d@example")
    write(repo, "requests/27/r00777.yaml", bad)


def check(repo: Path, count: int) -> None:
    report = validate(load_settings(repo))
    assert report.files_checked == count
    assert [(f.path, f.line, f.rule) for f in report.findings] == [
        ("requests/27/r00777.yaml", 9, "email-format")
    ]


def test_one_bad_file_among_a_thousand(repo: Path) -> None:
    many(repo, 1_000)
    check(repo, 1_000)


@pytest.mark.chaos
def test_one_bad_file_among_ten_thousand(repo: Path) -> None:
    many(repo, 10_000)
    check(repo, 10_000)
