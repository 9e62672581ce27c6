"""The enums of ``schemas/privacy-job.schema.json``, written from Adobe's code table.

``spec.regulation`` and ``spec.include`` list what :mod:`reconciler.adobe.codes` holds.
After a change to that table, regenerate the schema with::

    make schemas   (.venv/bin/python -m reconciler.schema_enums)

(``--check`` only reports, exiting 1 when the schema is stale). Only the two arrays are
rewritten, in place and wrapped like the rest of the hand-written file; the result is
parsed again and must differ from the old schema in those two arrays alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.adobe import codes

SCHEMA = "privacy-job.schema.json"
COMMAND = "make schemas"
WIDTH = 100  # the width of the file's longest hand-written lines

# Where each enum sits in the schema, as keys from the root, and what it must hold.
ENUM_PATHS: tuple[tuple[str, ...], ...] = (
    ("properties", "spec", "properties", "regulation", "enum"),
    ("properties", "spec", "properties", "include", "items", "enum"),
)


class SchemaLayoutError(Exception):
    """The schema's text is not laid out as the generator expects (a bug to fix by hand)."""


def wanted_enums() -> dict[tuple[str, ...], list[str]]:
    """The enum each path must hold, from the table."""
    return {
        ENUM_PATHS[0]: list(codes.regulation_codes()),
        ENUM_PATHS[1]: list(codes.product_spellings()),
    }


def _get(document: Any, path: Sequence[str]) -> Any:
    node = document
    for key in path:
        node = node[key]
    return node


def stale_enums(schema_text: str) -> list[str]:
    """Why ``schema_text``'s enums differ from the table (empty when they agree)."""
    document = json.loads(schema_text)
    problems = []
    for path, wanted in wanted_enums().items():
        try:
            found = _get(document, path)
        except (KeyError, TypeError):
            problems.append(f"{'.'.join(path)} is missing")
            continue
        if found != wanted:
            missing = [c for c in wanted if c not in found]
            extra = [c for c in found if c not in wanted]
            where = ".".join(path[:-1])
            if missing or extra:
                problems.append(f"{where}: missing {missing}, not in the table {extra}")
            else:
                problems.append(f"{where}: in another order than the table")
    return problems


def _array_span(text: str, path: Sequence[str]) -> tuple[int, int]:
    """The offsets of the ``[...]`` holding the enum at ``path`` (a plain scan: each key
    is looked for after the previous one, and the array holds strings without brackets)."""
    at = 0
    for key in path:
        found = text.find(json.dumps(key) + ":", at)
        if found < 0:
            raise SchemaLayoutError(f"{SCHEMA}: no {key!r} after offset {at}")
        at = found + len(key) + 3
    start = text.index("[", at)
    end = text.index("]", start)
    return start, end + 1


def _format_array(values: Sequence[str], indent: str) -> str:
    """``values`` as a JSON array, one item per slot, lines wrapped at :data:`WIDTH`."""
    inner = indent + "  "
    lines: list[str] = []
    line = inner
    for i, value in enumerate(values):
        item = json.dumps(value) + ("," if i < len(values) - 1 else "")
        if line != inner and len(line) + 1 + len(item) > WIDTH:
            lines.append(line)
            line = inner
        line += item if line == inner else " " + item
    lines.append(line)
    return "[\n" + "\n".join(lines) + "\n" + indent + "]"


def write_enums(schema_text: str) -> str:
    """``schema_text`` with its two enums replaced by the table's."""
    text = schema_text
    for path, wanted in wanted_enums().items():
        start, end = _array_span(text, path)
        line_start = text.rfind("\n", 0, start) + 1
        indent = text[line_start : len(text) - len(text[line_start:].lstrip(" "))]
        text = text[:start] + _format_array(wanted, indent) + text[end:]
    # Nothing but the two arrays may have changed.
    before, after = json.loads(schema_text), json.loads(text)
    for path, wanted in wanted_enums().items():
        _get(before, path[:-1])[path[-1]] = wanted
    if before != after or stale_enums(text):
        raise SchemaLayoutError(f"{SCHEMA}: rewriting the enums changed something else")
    return text


def main(argv: Sequence[str], schema: Path) -> int:
    """Rewrite (or with ``--check``, only compare) ``schema``; the exit code."""
    text = schema.read_text(encoding="utf-8")
    if "--check" in argv:
        problems = stale_enums(text)
        for problem in problems:
            print(f"{schema}: {problem}", file=sys.stderr)
        if problems:
            print(f"regenerate it with: {COMMAND}", file=sys.stderr)
        return 1 if problems else 0
    updated = write_enums(text)
    if updated != text:
        schema.write_text(updated, encoding="utf-8")
        print(f"wrote {schema}")
    return 0


if __name__ == "__main__":
    from reconciler.schemas import schema_dir

    sys.exit(main(sys.argv[1:], schema_dir() / SCHEMA))
