"""Safe YAML loading that remembers where every value came from.

The document is built from libyaml's event stream rather than PyYAML's composer
and constructor: the composer recurses (libyaml's C composer crashes the
interpreter on deeply nested input) and the constructor silently keeps the last
of two duplicate keys. Building from events lets us refuse, with a location:

* duplicate keys, anchors and aliases (the "billion laughs" bomb), tags other
  than the core schema's, merge keys, complex keys;
* nesting deeper than :data:`MAX_DEPTH`, files larger than :data:`MAX_BYTES`,
  text that is not UTF-8, more than one document per file;
* a ``%YAML`` directive for another version than 1.1, the one PyYAML reads (in
  YAML 1.2 ``off`` is text, here it is ``false``: an opt-out read as an opt-in).

:func:`read_text` refuses, before opening anything, what is not a regular file
(a FIFO would block the reader forever, a device never end) and, given the
repository's root, a file that resolves outside it (a symbolic link to
``~/.ssh/…`` is never read).

The result is plain JSON-like data (dict, list, str, int, float, bool, None)
plus a map from each value's path to its 1-based line and column. Timestamps
stay strings: request files are JSON documents written in YAML.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

try:  # libyaml's C parser when present: much faster, same events.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
# What PyYAML reads; a file's `%YAML` directive may only name this version.
YAML_VERSION = "1.1"

PathKey = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_ALLOWED_TAGS = {None, "!", _CORE + "map", _CORE + "seq", *_SCALAR_TAGS}
_resolver = Resolver()
_constructor = SafeConstructor()


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    column: int


class ParseError(Exception):
    """A file that cannot be read as a request document, with where and why."""

    def __init__(self, path: str, mark: Mark, rule: str, message: str) -> None:
        super().__init__(f"{path}:{mark.line}:{mark.column}: {message} ({rule})")
        self.path = path
        self.mark = mark
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Document:
    """One YAML document: its data and the location of every value and key."""

    path: str
    data: Any
    marks: dict[PathKey, Mark] = field(repr=False)
    key_marks: dict[PathKey, Mark] = field(repr=False)

    def locate(self, path: PathKey, *, key: bool = False) -> Mark:
        """Where the value at ``path`` (or its key) is, or its nearest ancestor."""
        p = tuple(path)
        if key and p in self.key_marks:
            return self.key_marks[p]
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), Mark(1, 1))


def _mark(m: Any) -> Mark:
    return Mark(m.line + 1, m.column + 1) if m is not None else Mark(1, 1)


def _decode(path: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = e.start - (before.rfind(b"\n") + 1) + 1
        raise ParseError(
            path,
            Mark(line, column),
            "yaml-encoding",
            "file is not valid UTF-8; save it as UTF-8",
        ) from None


def read_text(path: Path, display: str | None = None, *, root: Path | None = None) -> str:
    """Read a file as UTF-8 text within the size limit, or raise :class:`ParseError`.

    Only a regular file is opened, and with ``root``, only one inside it once every
    symbolic link on the way is followed."""
    shown = display or str(path)
    target = os.fspath(path) if root is None else _inside(path, shown, root)
    try:
        _require_regular(shown, os.stat(target).st_mode, path=path)
        # O_NONBLOCK: should a FIFO replace the file after the check, opening it does not
        # wait for a writer (and fstat refuses it). O_NOFOLLOW: nor does a new link count.
        fd = os.open(target, _OPEN_FLAGS | (_NOFOLLOW if root is not None else 0))
        with os.fdopen(fd, "rb") as f:
            _require_regular(shown, os.fstat(f.fileno()).st_mode)
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ParseError(shown, Mark(1, 1), "file-unreadable", e.strerror or str(e)) from None
    return check_text(shown, raw)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@lru_cache(maxsize=16)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def _no_link_below(path: str, root: str) -> bool:
    """Whether ``path``, lexically under ``root``, has no symbolic link below ``root``: one
    lstat per level instead of resolving the whole path (the common case, checked first)."""
    here = root.rstrip(os.sep)
    for part in path[len(here) + 1 :].split(os.sep):
        here = here + os.sep + part
        if stat.S_ISLNK(os.lstat(here).st_mode):
            return False
    return True


def _inside(path: Path, shown: str, root: Path) -> str:
    """``path`` with every link followed, or :class:`ParseError` when that is outside ``root``."""
    lexical, top = os.path.abspath(path), os.path.abspath(root)
    if lexical != top and _within(lexical, top):
        try:
            if _no_link_below(lexical, top):
                return lexical
        except OSError:
            pass  # missing: resolved below, and reported when opened
    real = os.path.realpath(path)
    if _within(real, _real_root(top)):
        return real
    if _within(lexical, top):
        message = (
            "this is a symbolic link (or lies in a linked folder) that resolves outside the "
            "repository; it was not read: put the request file itself in the repository"
        )
    else:
        message = (
            "this file is outside the repository; request files are read only from the "
            "repository: move it into the requests folder"
        )
    raise ParseError(shown, Mark(1, 1), "outside-repository", message)


def _require_regular(shown: str, mode: int, *, path: Path | None = None) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode) and path is not None and os.path.islink(path):
        message = (
            "this is a symbolic link to a folder; links to folders are not followed, so no "
            "request in it would be checked or applied: move the files into the requests folder"
        )
    else:
        if stat.S_ISDIR(mode):
            what = "a folder"
        elif stat.S_ISFIFO(mode):
            what = "a named pipe (FIFO)"
        elif stat.S_ISSOCK(mode):
            what = "a socket"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            what = "a device"
        else:
            what = "a special file"
        message = (
            f"this is {what}, not a regular file; it was not opened: "
            "replace it by a request file or remove it"
        )
    raise ParseError(shown, Mark(1, 1), "not-a-regular-file", message)


def check_text(path: str, raw: bytes) -> str:
    """Apply the size and encoding rules to raw bytes."""
    if len(raw) > MAX_BYTES:
        raise ParseError(
            path,
            Mark(1, 1),
            "yaml-too-large",
            f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB; "
            "split the request into several files",
        )
    return _decode(path, raw)


def _scalar(path: str, ev: yaml.ScalarEvent) -> Any:
    tag = ev.tag
    if tag not in _ALLOWED_TAGS:
        raise ParseError(
            path,
            _mark(ev.start_mark),
            "yaml-tag",
            f"YAML tag {tag!r} is not allowed; remove it and write a plain value",
        )
    plain, _quoted = ev.implicit
    if tag is None and plain:
        tag = _resolver.resolve(ScalarNode, ev.value, ev.implicit)  # type: ignore[no-untyped-call]
    elif tag in (None, "!"):
        return ev.value
    if tag == _CORE + "merge":
        raise ParseError(
            path, _mark(ev.start_mark), "yaml-merge", "YAML merge keys (<<) are not allowed"
        )
    if tag in _SCALAR_TAGS and tag != _CORE + "str":
        node = ScalarNode(tag, ev.value, None, None, ev.style)
        try:
            return _constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as e:
            raise ParseError(
                path, _mark(ev.start_mark), "yaml-syntax", f"cannot read value as {tag[18:]}"
            ) from e
    # str, and timestamps/other implicit types kept as their text.
    return ev.value


class _Builder:
    """Turns a stream of parser events into data and marks, without recursion."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: dict[PathKey, Mark] = {}
        self.key_marks: dict[PathKey, Mark] = {}
        # Each frame: [container, its path, pending key (mappings), key mark]
        self.stack: list[list[Any]] = []
        self.root: Any = None
        self.documents = 0

    def fail(self, ev: yaml.Event, rule: str, message: str) -> None:
        raise ParseError(self.path, _mark(ev.start_mark), rule, message)

    def _child_path(self) -> PathKey:
        container, cpath, key, _ = self.stack[-1]
        if isinstance(container, list):
            return (*cpath, len(container))
        return (*cpath, key)

    def _add(self, ev: yaml.Event, value: Any) -> None:
        if not self.stack:
            self.root = value
            self.marks[()] = _mark(ev.start_mark)
            return
        frame = self.stack[-1]
        container = frame[0]
        if isinstance(container, list):
            self.marks[(*frame[1], len(container))] = _mark(ev.start_mark)
            container.append(value)
            return
        if frame[2] is _NO_KEY:
            if isinstance(value, (dict, list)):
                self.fail(ev, "yaml-complex-key", "mapping keys must be plain scalars")
            key = value if isinstance(value, str) else str(value)
            if key in container:
                first = self.key_marks[(*frame[1], key)]
                self.fail(
                    ev,
                    "yaml-duplicate-key",
                    f"duplicate key {key!r} (first defined on line {first.line}); keep only one",
                )
            frame[2] = key
            frame[3] = _mark(ev.start_mark)
            container[key] = None  # reserve the slot so order is kept
            return
        key = frame[2]
        self.marks[(*frame[1], key)] = _mark(ev.start_mark)
        self.key_marks[(*frame[1], key)] = frame[3]
        container[key] = value
        frame[2] = _NO_KEY

    def feed(self, ev: yaml.Event) -> None:
        anchor = getattr(ev, "anchor", None)
        if isinstance(ev, yaml.AliasEvent) or anchor is not None:
            self.fail(
                ev,
                "yaml-alias",
                "YAML anchors and aliases (& and *) are not allowed; write each value out",
            )
        if isinstance(ev, yaml.ScalarEvent):
            self._add(ev, _scalar(self.path, ev))
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if ev.tag not in _ALLOWED_TAGS:
                self.fail(ev, "yaml-tag", f"YAML tag {ev.tag!r} is not allowed; remove it")
            if len(self.stack) >= MAX_DEPTH:
                self.fail(ev, "yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels")
            container: dict[str, Any] | list[Any] = (
                {} if isinstance(ev, yaml.MappingStartEvent) else []
            )
            if self.stack and isinstance(self.stack[-1][0], dict) and self.stack[-1][2] is _NO_KEY:
                self.fail(ev, "yaml-complex-key", "mapping keys must be plain scalars")
            cpath: PathKey = self._child_path() if self.stack else ()
            self._add(ev, container)
            self.stack.append([container, cpath, _NO_KEY, None])
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.stack.pop()
        elif isinstance(ev, yaml.DocumentStartEvent):
            version = getattr(ev, "version", None)
            if version is not None and tuple(version) != (1, 1):
                self.fail(
                    ev,
                    "yaml-version",
                    f"%YAML {version[0]}.{version[1]} is not supported: request files are read "
                    f"as YAML {YAML_VERSION}, where yes, no, on and off are booleans; remove the "
                    "directive (and quote any value that must stay text)",
                )
            self.documents += 1
            if self.documents > 1:
                self.fail(
                    ev,
                    "yaml-multiple-documents",
                    "a file holds exactly one request; move the others into their own files",
                )


_NO_KEY = object()


# libyaml (from the one bundled with PyYAML 6.0.4 on) refuses nesting past its own limit
# while scanning ahead, before the builder sees the level past MAX_DEPTH.
_LIBYAML_TOO_DEEP = "maximum nesting depth"


def parse_document(path: str, text: str) -> Document:
    """Parse one YAML document from ``text``; raise :class:`ParseError` when it is unsafe."""
    try:
        return _parse(path, text, _Loader)
    except _TooDeepForLibyaml:
        # One rule whatever the PyYAML build: re-read with the pure-Python parser, which has
        # no limit of its own and looks ahead a bounded distance, so the builder stops at
        # MAX_DEPTH and reports yaml-too-deep where the nesting crossed it.
        return _parse(path, text, yaml.SafeLoader)


class _TooDeepForLibyaml(Exception):
    pass


def _parse(path: str, text: str, loader: Any) -> Document:
    builder = _Builder(path)
    try:
        for ev in yaml.parse(text, Loader=loader):
            builder.feed(ev)
    except yaml.MarkedYAMLError as e:
        if loader is not yaml.SafeLoader and _LIBYAML_TOO_DEEP in (e.problem or ""):
            raise _TooDeepForLibyaml from None
        mark = e.problem_mark or e.context_mark
        problem = (e.problem or e.context or "invalid YAML").strip()
        if "incompatible YAML document" in problem:  # libyaml: %YAML 1.3, 2.0…
            raise ParseError(
                path,
                _mark(mark),
                "yaml-version",
                f"the %YAML directive names a version other than {YAML_VERSION}, the one "
                "request files are read as; remove the directive",
            ) from None
        index = getattr(mark, "index", None)
        if "tab" in problem or (isinstance(index, int) and text[index : index + 1] == "\t"):
            problem += " (indent with spaces, not tabs)"
        raise ParseError(path, _mark(mark), "yaml-syntax", problem) from None
    except yaml.YAMLError as e:  # ReaderError: control characters, bad encodings
        position = getattr(e, "position", None)
        line, column = 1, 1
        if isinstance(position, int):
            before = text[:position]
            line = before.count("\n") + 1
            column = position - (before.rfind("\n") + 1) + 1
        raise ParseError(
            path,
            Mark(line, column),
            "yaml-syntax",
            "file contains a character YAML does not allow (a control character?)",
        ) from None
    return Document(path, builder.root, builder.marks, builder.key_marks)


def load_document(path: Path, display: str | None = None) -> Document:
    """Read and parse a YAML file."""
    shown = display or str(path)
    return parse_document(shown, read_text(path, shown))
