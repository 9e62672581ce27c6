"""The lock: what `make` installed is exactly requirements.lock, and the lock fits pyproject."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements.runtime.lock"
PYPROJECT = ROOT / "pyproject.toml"
PROJECT = "aep-privacy-reconciler"

# One entry: "name==version [; marker] \" followed by "--hash=sha256:…" lines.
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+))?"
)


def locked(lock: Path = LOCK) -> dict[str, tuple[Version, Marker | None, int]]:
    """Every pin of a lock: its version, its marker and how many hashes it carries."""
    pins: dict[str, tuple[Version, Marker | None, int]] = {}
    name = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            name = canonicalize_name(match["name"])
            marker = Marker(match["marker"].strip()) if match["marker"] else None
            assert name not in pins or pins[name][1] is not None, f"{name} pinned twice"
            pins[name] = (Version(match["version"]), marker, 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            version, marker, hashes = pins[name]
            pins[name] = (version, marker, hashes + 1)
    return pins


def applicable() -> dict[str, Version]:
    return {n: v for n, (v, m, _) in locked().items() if m is None or m.evaluate()}


def test_every_pin_is_exact_and_hashed() -> None:
    pins = locked()
    assert len(pins) > 50  # the parser read the file, not just its header
    assert [n for n, (_, _, hashes) in pins.items() if hashes == 0] == []


def test_the_runtime_lock_is_part_of_the_lock() -> None:
    """What the GitHub Action installs is what the tests ran with, version for version."""
    full, runtime = locked(), locked(RUNTIME_LOCK)
    assert {"click", "httpx", "pyyaml", "hatchling"} <= set(runtime)
    assert {"pytest", "mypy", "ruff"}.isdisjoint(runtime)
    assert {n: v for n, (v, _, _) in runtime.items()} == {
        n: full[n][0] for n in runtime if n in full
    }
    assert set(runtime) <= set(full)
    assert [n for n, (_, _, hashes) in runtime.items() if hashes == 0] == []


def test_the_installed_set_is_the_lock() -> None:
    """`make` installs the lock with --no-deps: nothing more, nothing less, no other version."""
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    installed.pop(PROJECT)
    expected = applicable()
    missing = sorted(set(expected) - set(installed))
    extra = sorted(set(installed) - set(expected))
    wrong = sorted(
        f"{n} {installed[n]} (locked {v})"
        for n, v in expected.items()
        if n in installed and installed[n] != v
    )
    hint = "rebuild the virtualenv from the lock: make clean install"
    assert (missing, extra, wrong) == ([], [], []), hint


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        texts.extend(extra)
    return [Requirement(t) for t in texts if canonicalize_name(Requirement(t).name) != PROJECT]


@pytest.mark.parametrize("requirement", _pyproject_requirements(), ids=str)
def test_the_lock_satisfies_pyproject(requirement: Requirement) -> None:
    """Each lower bound in pyproject.toml is honest: the locked version meets it."""
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{name} is declared but not locked: run make lock"
    assert requirement.specifier.contains(pins[name][0], prereleases=True)


def test_aepp_heavy_dependencies_stay_out() -> None:
    # aepp's API modules import only requests; the lock must not drag in its data stack.
    assert {"pandas", "matplotlib", "datamodel-code-generator"}.isdisjoint(locked())
