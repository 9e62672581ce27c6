"""The options of ``reconciler new``: checked, normalised and given their defaults.

:func:`check_options` refuses flags that are missing, malformed or meant for another
kind, with the rules (name pattern, regulation and product codes) read from the
request schemas so that a scaffolded request and ``reconciler validate`` agree.
Nothing here prints.

Exception tree::

    ReconcilerError
    └── UsageError          a flag is missing, malformed or does not apply to the kind (exit 2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.kinds import Kind, RequestKind, privacy_job, record_delete
from reconciler.scaffold.csvids import NAMESPACE_RE
from reconciler.schemas import validator

ALL_DATASETS = record_delete.ALL_DATASETS
DEFAULT_INCLUDE = privacy_job.DEFAULT_INCLUDE


@dataclass(frozen=True)
class Options:
    """The request asked for on the command line; ``None`` means not given."""

    kind: RequestKind
    name: str
    dataset: str | None = None
    display_name: str | None = None
    description: str | None = None
    ticket: str | None = None
    regulation: str | None = None
    include: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    namespace: str | None = None
    folder: str | None = None


def regulations() -> tuple[str, ...]:
    """Adobe's regulation codes, as the privacy job schema lists them."""
    return privacy_job.KIND.regulations()


def products() -> tuple[str, ...]:
    """Privacy Service product codes, as the privacy job schema lists them."""
    return privacy_job.KIND.products()


def scaffolded() -> tuple[RequestKind, ...]:
    """The kinds `reconciler new` writes from identities (a CSV or a template)."""
    return tuple(k for k in Kind if k.new_unit is not None)


def parse_kind(text: str) -> RequestKind:
    """``RecordDelete``, ``record-delete``, ``record_delete``, ``recorddelete`` … → a Kind."""
    wanted = re.sub(r"[-_\s]", "", text).lower()
    written = ", ".join(k.value for k in scaffolded())
    for kind in Kind:
        if kind.value.lower() == wanted:
            if kind.new_unit is None:
                raise UsageError(
                    f"`reconciler new` writes {written} requests; write a {kind.value} from "
                    f"the example in requests/{kind.folder}/ (it names no identity)"
                )
            return kind
    raise UsageError(f"unknown kind {text!r}; use one of {written} (or kebab-case, record-delete)")


def _check_name(name: str) -> None:
    schema: dict[str, Any] = validator("common.schema.json").schema  # type: ignore[assignment]
    rule = schema["$defs"]["name"]
    if not re.fullmatch(rule["pattern"], name) or len(name) > rule["maxLength"]:
        raise UsageError(f"--name {name!r} {rule['x-message']}")


def _only_for(kind: RequestKind, options: Options) -> None:
    for owner in Kind:
        if owner is kind:
            continue
        for flag, attribute in owner.new_flags.items():
            if flag in kind.new_flags:
                continue  # a flag two kinds take is the other's too
            if getattr(options, attribute):
                raise UsageError(f"{flag} applies to {owner.value} requests only")


def _check_length(flag: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise UsageError(f"{flag} is longer than {limit} characters")


def check_options(options: Options) -> Options:
    """Refuse flags that are missing, malformed or meant for another kind; fill in defaults."""
    kind = options.kind
    _check_name(options.name)
    _only_for(kind, options)
    _check_length("--display-name", options.display_name, 256)
    _check_length("--description", options.description, 1024)
    _check_length("--ticket", options.ticket, 200)
    if options.ticket is not None and not options.ticket.isprintable():
        raise UsageError("--ticket must be one line of printable text")
    if options.display_name is not None and not options.display_name.strip():
        raise UsageError("--display-name must not be empty")
    if options.namespace is not None and not NAMESPACE_RE.match(options.namespace):
        raise UsageError("--namespace must be a namespace code of letters, digits, '_', '.', '-'")
    if options.folder is not None:
        folder = Path(options.folder)
        if folder.is_absolute() or ".." in folder.parts:
            raise UsageError("--dir must be a folder inside the requests folder, e.g. 2026/q4")
    checked = replace(options, **kind.new_check(options))
    return checked
