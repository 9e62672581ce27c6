"""The package's imports go one way: no cycles, gitpython behind reconciler/git/ only,
and nothing below the command line importing it.

Imports are read with ``ast`` from every module's source, those inside functions
included (a lazy import is still an import), those under ``if TYPE_CHECKING:``
left out (they never run).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import reconciler

PACKAGE = Path(reconciler.__file__).resolve().parent
GITPYTHON = {"git", "gitdb"}
# The entry point of `python -m reconciler` is the command line's caller by definition.
ENTRY_POINT = "reconciler.__main__"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes_of(other)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def imported(name: str) -> set[str]:
    """Every module ``name`` imports (absolute names; ``from a import b`` is ``a.b`` when
    that is a module of the package, else ``a``)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            full = f"{base}.{alias.name}"
            found.add(full if full in MODULES else base)
    return found


GRAPH = {name: {m for m in imported(name) if m in MODULES and m != name} for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first repeated last)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_walk_sees_the_package() -> None:
    assert {"reconciler.cli", "reconciler.git.repo", "reconciler.check.validation"} <= set(MODULES)
    assert "reconciler.check.findings" in GRAPH["reconciler.check.validation"]
    assert "reconciler.git.repo" in GRAPH["reconciler.git.history"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_lazy_and_long_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    source = "def f():\n    from x import y\nif TYPE_CHECKING:\n    import z\nelse:\n    import w\n"
    nodes = list(_import_nodes(ast.parse(source)))
    assert [type(n).__name__ for n in nodes] == ["ImportFrom", "Import"]
    assert isinstance(nodes[1], ast.Import) and nodes[1].names[0].name == "w"


def test_gitpython_is_imported_under_reconciler_git_only() -> None:
    outside = sorted(
        f"{name} imports {module}"
        for name in MODULES
        for module in imported(name)
        if module.split(".")[0] in GITPYTHON and not name.startswith("reconciler.git.")
    )
    assert outside == []
    assert any("git" in {m.split(".")[0] for m in imported(n)} for n in MODULES)


def test_nothing_below_the_command_line_imports_it() -> None:
    upward = sorted(
        f"{name} imports {module}"
        for name in MODULES
        for module in imported(name)
        if (module == "reconciler.cli" or module.startswith("reconciler.cli."))
        and not (name == "reconciler.cli" or name.startswith("reconciler.cli."))
        and name != ENTRY_POINT
    )
    assert upward == []
