"""The built distribution, installed as a user installs it, and the installs `make` makes.

The wheel is built with the locked hatchling, installed into a fresh virtualenv with exactly
the pins of requirements.runtime.lock (hash-checked, --no-deps) and run from an empty
directory with a clean environment: no checkout on sys.path, no PYTHONPATH, a HOME of its
own. What works there works for a requests repository that installs this release.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

import pytest
from filelock import FileLock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.test_lock import RUNTIME_LOCK, locked

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "aep-privacy-reconciler"


def source_version() -> str:
    """The version in reconciler/__init__.py, which hatch gives the built distribution."""
    text = (ROOT / "reconciler" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert found, "no __version__ in reconciler/__init__.py"
    return found[1]


VERSION = source_version()
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
# Building and installing take about 15 s on their own; more when every core runs tests.
pytestmark = pytest.mark.timeout(300)

# The commands a new user runs first, each in an empty directory of its own, with the
# installed `reconciler` only: (arguments, text its output must contain).
# `reconciler init` goes here too, e.g. pytest.param(["init", "."], "...", id="init").
FIRST_COMMANDS = [
    pytest.param(["demo"], "Done.", id="demo"),
    pytest.param(
        ["init", "--org-id", "0123456789ABCDEF01234567@AdobeOrg", "--sandbox", "prod"],
        "reconciler.yaml",
        id="init",
    ),
]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def command(self, name: str) -> Path:
        return self.venv / "bin" / name


def run(
    args: list[str | Path],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True
    )


def outside_env() -> dict[str, str]:
    """This environment without anything that points Python at this checkout or venv."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }


def build_and_install(where: Path) -> Installed:
    wheels = where / "wheel"
    built = run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", wheels], cwd=ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("*.whl")
    venv = where / "venv"
    # No pip inside: this interpreter's (locked) pip installs into it with --python.
    made = run([sys.executable, "-m", "venv", "--without-pip", venv], env=outside_env())
    assert made.returncode == 0, made.stdout + made.stderr
    target = ["--python", str(venv / "bin" / "python"), "install", "--quiet"]
    for args in (
        ["--require-hashes", "--no-deps", "-r", str(RUNTIME_LOCK)],
        ["--no-deps", str(wheel)],
    ):
        done = run([*PIP, *target, *args], cwd=where, env=outside_env())
        assert done.returncode == 0, f"pip install {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return Installed(wheel, venv)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built and installed once per test run, whichever pytest-xdist worker comes first."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "distribution"
    else:
        shared = tmp_path_factory.mktemp("distribution")
    shared.mkdir(exist_ok=True)
    ready = shared / "installed.json"
    with FileLock(shared / ".lock"):
        if ready.exists():
            paths = json.loads(ready.read_text(encoding="utf-8"))
            found = Installed(Path(paths["wheel"]), Path(paths["venv"]))
        else:
            found = build_and_install(shared)
            ready.write_text(json.dumps({"wheel": str(found.wheel), "venv": str(found.venv)}))
    return found


def clean_env(tmp_path: Path, installed: Installed) -> dict[str, str]:
    """A user's shell: the venv's bin first on PATH, a HOME and TMPDIR of its own."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {
        k: v
        for k, v in outside_env().items()
        if not k.startswith(("GIT_", "RECONCILER_", "ADOBE_", "COV_CORE_", "COVERAGE_"))
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        PATH=os.pathsep.join([str(installed.venv / "bin"), env.get("PATH", "")]),
    )
    return env


def run_installed(
    installed: Installed, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = clean_env(tmp_path, installed)
    return run([installed.command("reconciler"), *args], cwd=empty, env=env, timeout=240)


def test_version(installed: Installed, tmp_path: Path) -> None:
    result = run_installed(installed, tmp_path, "--version")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"reconciler, version {VERSION}\n"


@pytest.mark.parametrize(("args", "expected"), FIRST_COMMANDS)
def test_first_commands_run_from_an_empty_directory(
    installed: Installed, tmp_path: Path, args: list[str], expected: str
) -> None:
    result = run_installed(installed, tmp_path, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected in result.stdout


def test_the_repository_init_starts_validates_with_the_installed_tool(
    installed: Installed, tmp_path: Path
) -> None:
    """What init wrote from the wheel alone: schemas, examples, settings that the same
    installed tool accepts."""
    env = clean_env(tmp_path, installed)
    started = tmp_path / "empty"
    started.mkdir()
    made = run([installed.command("reconciler"), "init"], cwd=started, env=env, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    checked = run([installed.command("reconciler"), "validate"], cwd=started, env=env, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("4 file(s) valid")
    assert sorted(p.name for p in (started / "schemas").glob("*.json")) == sorted(
        p.name for p in (ROOT / "schemas").glob("*.json")
    )


def test_the_installed_distribution_is_named_for_the_index(
    installed: Installed, tmp_path: Path
) -> None:
    """aep-privacy-reconciler, imported as `reconciler` from the venv, not the checkout."""
    probe = """if True:
        import json, reconciler
        from importlib import metadata
        try:
            metadata.distribution("reconciler")
            other = True
        except metadata.PackageNotFoundError:
            other = False
        meta = metadata.metadata("aep-privacy-reconciler")
        print(json.dumps({"name": meta["Name"], "version": meta["Version"], "other": other,
                          "file": reconciler.__file__, "version_attr": reconciler.__version__}))
    """
    (tmp_path / "empty").mkdir()
    result = run(
        [installed.python, "-c", probe],
        cwd=tmp_path / "empty",
        env=clean_env(tmp_path, installed),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["name"] == PROJECT
    assert found["version"] == found["version_attr"] == VERSION
    assert found["other"] is False, "the unrelated `reconciler` distribution is installed"
    assert Path(found["file"]).is_relative_to(installed.venv)


def test_the_runtime_lock_is_complete(installed: Installed) -> None:
    """Installed with --no-deps, every requirement of every package is still there."""
    result = run([*PIP, "--python", str(installed.python), "check"], env=outside_env())
    assert result.returncode == 0, result.stdout + result.stderr


def wheel_metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    return {key: message.get_all(key) or [] for key in ("Name", "Version", "Requires-Dist")}


def test_the_runtime_lock_meets_the_wheels_requirements(installed: Installed) -> None:
    """Each Requires-Dist of the wheel (and of its `build` extra) is met by the runtime lock."""
    meta = wheel_metadata(installed.wheel)
    assert meta["Name"] == [PROJECT] and meta["Version"] == [VERSION]
    pins = {name: version for name, (version, _, _) in locked(RUNTIME_LOCK).items()}
    requirements = [Requirement(text) for text in meta["Requires-Dist"]]
    runtime = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": "build"})]
    assert {"click", "httpx", "pyyaml", "hatchling"} <= {canonicalize_name(r.name) for r in runtime}
    unmet = []
    for requirement in runtime:
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin, prereleases=True):
            unmet.append(f"{requirement} (locked: {pin or 'nothing'})")
    assert unmet == [], "raise the pin (make lock) or lower the bound in pyproject.toml"


def test_the_wheel_carries_the_schemas_examples_and_templates(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    schemas = {f"reconciler/_schemas/{p.name}" for p in (ROOT / "schemas").glob("*.json")}
    examples = {
        "reconciler/_examples/" + p.relative_to(ROOT / "requests").as_posix()
        for p in (ROOT / "requests").rglob("*.yaml")
    }
    assert schemas and examples
    assert schemas | examples <= names
    assert {n for n in names if n.startswith("reconciler/scaffold/templates/workflows/")}
    assert not {n for n in names if n.startswith("tests/") or "__pycache__" in n}


def test_the_sdist_holds_what_make_test_reads(tmp_path: Path) -> None:
    built = run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", tmp_path], cwd=ROOT
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (sdist,) = tmp_path.glob("*.tar.gz")
    assert sdist.name == f"aep_privacy_reconciler-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        prefix = f"aep_privacy_reconciler-{VERSION}/"
        names = {m.name.removeprefix(prefix) for m in archive.getmembers()}
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "Makefile",
        "action.yml",
        ".pre-commit-hooks.yaml",
        "requirements.lock",
        "requirements.runtime.lock",
        "reconciler/__init__.py",
        "schemas/request.schema.json",
        "requests/record-deletes/jira-12345.yaml",
        "tests/conftest.py",
        "tests/test_distribution.py",
        ".github/workflows/release.yml",
    ):
        assert needed in names, needed
    stray = {n for n in names if n.startswith((".venv/", "dist/", ".git/")) or n.endswith(".db")}
    assert stray == set()


# --- the installs `make` makes ---------------------------------------------------------


def recipe(makefile: str, target: str) -> list[str]:
    """The commands of one rule, each with its continuation lines joined."""
    lines = makefile.replace("\\\n", " ").splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith(f"{target}:")]
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        commands.append(" ".join(line.split()))
    assert commands, target
    return commands


def test_make_installs_the_lock_hash_checked_and_nothing_else() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LOCK\s*:?= requirements\.lock$", makefile, re.MULTILINE)
    installs = [c for c in recipe(makefile, "$(STAMP)") if "pip install" in c]
    assert len(installs) == 2
    hashed = [c for c in installs if "-r $(LOCK)" in c]
    assert len(hashed) == 1 and "--require-hashes" in hashed[0]
    assert all("--no-deps" in c for c in installs), "pip must resolve and fetch nothing"
    every_install = [c for c in makefile.replace("\\\n", " ").splitlines() if "pip install" in c]
    upgrading = [c for c in every_install if re.search(r"\s(--upgrade|-U)(\s|$)", c)]
    assert upgrading == []


def test_the_action_installs_the_runtime_lock_the_same_way() -> None:
    action = (ROOT / "action.yml").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [" ".join(line.split()) for line in action.splitlines() if "pip install" in line]
    assert len(installs) == 2
    (hashed,) = [c for c in installs if "requirements.runtime.lock" in c]
    assert "--require-hashes" in hashed
    assert all("--no-deps" in c for c in installs)
    assert not [c for c in installs if re.search(r"\s(--upgrade|-U)(\s|$)", c)]


def test_make_dist_builds_with_the_locked_hatchling() -> None:
    """No build frontend that would fetch an unpinned hatchling into an isolated env."""
    commands = recipe((ROOT / "Makefile").read_text(encoding="utf-8"), "dist")
    assert "$(BIN)/hatchling build -t sdist -t wheel" in commands
    assert not [c for c in commands if "-m build" in c or "pip wheel" in c]
