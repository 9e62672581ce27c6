"""Reading identities from a CSV, for ``reconciler new --csv``.

Bytes in, rows of identities out (:func:`read_csv`), each row with its line so
that every problem is reported as ``FILE:LINE: message``, with values masked.
:func:`unique_identities` and :func:`unique_users` drop repeated identities
(or users, for a privacy job) the way ``validate``'s duplicate rule counts them.
A value accepted here is one ``validate`` accepts: the same checks are used. A
standard namespace written in another case (a header ``EMAIL``) is written as
Adobe spells it (``email``), the way ``validate`` asks for it.

Exception tree::

    ReconcilerError
    └── CsvError        bad rows in the CSV, each as ``FILE:LINE: message``
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.check.rules import canonical_namespace, identity_problem
from reconciler.errors import ReconcilerError
from reconciler.secrets.masking import mask

MAX_USER_IDS = 9  # userIDs per privacy job user (privacy-job.schema.json)
MAX_PROBLEMS = 100
PAIRS_HEADER = ["namespace", "value"]
NAMESPACE_RE = re.compile(r"\A[A-Za-z0-9_.-]{1,128}\Z")


class CsvError(ReconcilerError):
    """Rows of a CSV that cannot be used, each as ``FILE:LINE: message`` (masked)."""

    def __init__(self, problems: Sequence[str], total: int) -> None:
        more = f" (and {total - 1} more)" if total > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = tuple(problems)
        self.total = total


@dataclass(frozen=True)
class CsvIdentity:
    namespace: str
    value: str


@dataclass(frozen=True)
class CsvRow:
    """The identities of one CSV row (one user for a privacy job) and its line."""

    line: int
    identities: tuple[CsvIdentity, ...]


@dataclass(frozen=True)
class CsvIdentities:
    """What a CSV holds: its non-blank rows in file order; ``source`` names it in messages."""

    source: str
    rows: tuple[CsvRow, ...]


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.kept: list[str] = []
        self.total = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(f"{self.source}:{line}: {message}")

    def raise_any(self) -> None:
        if self.total:
            raise CsvError(self.kept, self.total)


def _decode(source: str, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise CsvError(
            [f"{source}:{line}: not UTF-8 text; save the file as CSV UTF-8"], 1
        ) from None


def _namespace_problem(code: str) -> str | None:
    # A header cell that is not a code may be an identity (a file without a header): mask it.
    if not NAMESPACE_RE.match(code) or not any(ch.isalpha() for ch in code):
        return f"{mask(code)!r} is not a namespace code"
    return None


def _spelled(code: str) -> str:
    """A standard namespace as Adobe spells it (``EMAIL`` → ``email``), others as written."""
    return canonical_namespace(code) or code


def _value_problem(namespace: str, value: str) -> str | None:
    """Why ``value`` cannot be written, in the words ``validate`` would use; None if it can."""
    if not value.isprintable() and any(unicodedata.category(c) == "Cc" for c in value):
        return f"{mask(value)} contains a control character or line break"
    if len(value) > 1024:
        return f"{mask(value)} is longer than 1,024 characters"
    # What validate asks, so that a row accepted here is a row validate accepts.
    problem = identity_problem(namespace, value)
    return problem[1] if problem is not None else None


def _trim(cells: list[str]) -> list[str]:
    cells = [c.strip() for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _header(cells: list[str], line: int, problems: _Problems) -> tuple[str, ...] | None:
    """The namespaces of a column-per-namespace header, or None for ``namespace,value``."""
    if [c.lower() for c in cells] == PAIRS_HEADER:
        return None
    seen: set[str] = set()
    for column, code in enumerate(cells, start=1):
        problem = _namespace_problem(code) if code else "is empty"
        if problem is None and code.lower() in seen:
            problem = f"{code!r} is named twice"
        if problem is not None:
            problems.add(
                line,
                f"header column {column}: {problem}; the first row names the namespaces "
                "(e.g. email,ECID) or reads namespace,value",
            )
        seen.add(code.lower())
    return tuple(_spelled(c) for c in cells)


def _row(
    cells: list[str], line: int, namespaces: tuple[str, ...] | None, problems: _Problems
) -> CsvRow | None:
    pairs: list[tuple[str, str]] = []
    if namespaces is None:
        if len(cells) != 2:
            problems.add(line, f"expected 2 cells (namespace,value), found {len(cells)}")
            return None
        namespace, value = cells
        problem = _namespace_problem(namespace) if namespace else "namespace is empty"
        if problem is not None and namespace:
            problem += " (the columns are namespace,value)"
        if problem is None and not value:
            problem = "value is empty"
        if problem is not None:
            problems.add(line, problem)
            return None
        pairs.append((_spelled(namespace), value))
    else:
        if len(cells) > len(namespaces):
            problems.add(
                line, f"{len(cells)} cells, but the header names {len(namespaces)} namespaces"
            )
            return None
        pairs.extend((ns, value) for ns, value in zip(namespaces, cells, strict=False) if value)
    bad = [p for p in (_value_problem(ns, v) for ns, v in pairs) if p]
    for problem in bad:
        problems.add(line, problem)
    return None if bad else CsvRow(line, tuple(CsvIdentity(ns, v) for ns, v in pairs))


def read_csv(source: str, raw: bytes) -> CsvIdentities:
    """Read identities from a CSV, in one of two shapes told apart by the header row.

    ``email,ECID``: a column per namespace, one row per person, empty cells skipped.
    ``namespace,value``: one identity per row. A UTF-8 (or UTF-16) byte order mark,
    blank lines and whitespace around cells are ignored; ``;`` or tab separators
    are recognised from the header. Every bad row is reported, masked.
    """
    text = _decode(source, raw).lstrip("\ufeff")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems = _Problems(source)
    rows: list[CsvRow] = []
    header_seen = False
    namespaces: tuple[str, ...] | None = None
    try:
        while True:
            line = reader.line_num + 1
            try:
                cells = _trim(next(reader))
            except StopIteration:
                break
            if not cells:
                continue
            if not header_seen:
                header_seen = True
                namespaces = _header(cells, line, problems)
                if problems.total:
                    break
                continue
            row = _row(cells, line, namespaces, problems)
            if row is not None and row.identities:
                rows.append(row)
    except csv.Error as e:
        problems.add(reader.line_num, f"cannot read the CSV: {e}")
    problems.raise_any()
    if not rows:
        what = "no rows after the header" if header_seen else "nothing in it"
        raise CsvError([f"{source}:1: {what}; it holds no identities"], 1)
    return CsvIdentities(source, tuple(rows))


def _key(identity: CsvIdentity) -> tuple[str, str]:
    # The key validate's duplicate-identity rule uses: emails compare without case.
    ns = identity.namespace.lower()
    return ns, identity.value.lower() if ns == "email" else identity.value


def unique_identities(rows: Iterable[CsvRow]) -> tuple[list[CsvRow], int]:
    """One unit per identity, duplicates dropped (and counted)."""
    seen: set[tuple[str, str]] = set()
    units: list[CsvRow] = []
    dropped = 0
    for row in rows:
        for identity in row.identities:
            key = _key(identity)
            if key in seen:
                dropped += 1
            else:
                seen.add(key)
                units.append(CsvRow(row.line, (identity,)))
    return units, dropped


def unique_users(source: str, rows: Iterable[CsvRow]) -> tuple[list[CsvRow], int]:
    """One unit per user (row); a repeated row is dropped, a partly repeated one refused."""
    users: set[frozenset[tuple[str, str]]] = set()
    owner: dict[tuple[str, str], int] = {}
    units: list[CsvRow] = []
    dropped = 0
    problems = _Problems(source)
    for row in rows:
        keys = [_key(i) for i in row.identities]
        if frozenset(keys) in users:
            dropped += 1
            continue
        shared = [(k, i) for k, i in zip(keys, row.identities, strict=True) if k in owner]
        if shared:
            key, identity = shared[0]
            problems.add(
                row.line,
                f"{mask(identity.value)} also belongs to the user on line {owner[key]}; "
                "merge the two rows or remove one",
            )
            continue
        if len(row.identities) > MAX_USER_IDS:
            problems.add(row.line, f"a user has at most {MAX_USER_IDS} identities")
            continue
        users.add(frozenset(keys))
        owner.update((k, row.line) for k in keys)
        units.append(row)
    problems.raise_any()
    return units, dropped
