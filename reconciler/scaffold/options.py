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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.kinds import Kind, RequestKind
from reconciler.scaffold.csvids import NAMESPACE_RE
from reconciler.schemas import validator

ALL_DATASETS = "ALL"
# Privacy Service products of Experience Platform: data lake, identity graph, profile store.
DEFAULT_INCLUDE = ("aepDataLake", "identity", "profileService")
DEFAULT_ACTIONS = ("delete",)


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


def _spec_schema(kind: RequestKind) -> dict[str, Any]:
    schema: dict[str, Any] = validator(kind.schema).schema  # type: ignore[assignment]
    return schema


def regulations() -> tuple[str, ...]:
    """Adobe's regulation codes, as the privacy job schema lists them."""
    spec = _spec_schema(Kind.PRIVACY_JOB)["properties"]["spec"]
    return tuple(spec["properties"]["regulation"]["enum"])


def products() -> tuple[str, ...]:
    """Privacy Service product codes, as the privacy job schema lists them."""
    spec = _spec_schema(Kind.PRIVACY_JOB)["properties"]["spec"]
    return tuple(spec["properties"]["include"]["items"]["enum"])


def parse_kind(text: str) -> RequestKind:
    """``RecordDelete``, ``record-delete``, ``record_delete``, ``recorddelete`` … → a Kind."""
    wanted = re.sub(r"[-_\s]", "", text).lower()
    for kind in Kind:
        if kind.value.lower() == wanted:
            if kind not in SCAFFOLDED:
                raise UsageError(
                    f"`reconciler new` writes {', '.join(k.value for k in SCAFFOLDED)} "
                    f"requests; write a {kind.value} from the example in "
                    f"requests/{kind.folder}/ (it names no identity)"
                )
            return kind
    kinds = ", ".join(k.value for k in SCAFFOLDED)
    raise UsageError(f"unknown kind {text!r}; use one of {kinds} (or kebab-case, record-delete)")


# The kinds `reconciler new` writes from identities (a CSV or a template).
SCAFFOLDED = (Kind.RECORD_DELETE, Kind.PRIVACY_JOB, Kind.CONSENT_OPT_OUT)


def _check_name(name: str) -> None:
    rule = _spec_schema(Kind.RECORD_DELETE)["properties"]["metadata"]["properties"]["name"]
    if not re.fullmatch(rule["pattern"], name) or len(name) > rule["maxLength"]:
        raise UsageError(f"--name {name!r} {rule['x-message']}")


def _only_for(kind: RequestKind, options: Options) -> None:
    given: dict[RequestKind, dict[str, str | tuple[str, ...] | None]] = {
        Kind.RECORD_DELETE: {
            "--dataset": options.dataset,
            "--display-name": options.display_name,
            "--description": options.description,
        },
        Kind.PRIVACY_JOB: {
            "--regulation": options.regulation,
            "--include": options.include,
            "--action": options.actions,
        },
    }
    for owner, flags in given.items():
        if owner is not kind:
            for flag, value in flags.items():
                if value:
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
    dataset = options.dataset
    regulation = options.regulation
    include = tuple(dict.fromkeys(options.include))
    actions = tuple(dict.fromkeys(options.actions))
    if kind is Kind.RECORD_DELETE:
        if dataset is None:
            raise UsageError(
                "RecordDelete needs --dataset ID (the dataset to delete from) or --dataset ALL"
            )
        dataset = ALL_DATASETS if dataset.upper() == ALL_DATASETS else dataset
        if not re.fullmatch(r"ALL|[A-Za-z0-9]{1,64}", dataset):
            raise UsageError("--dataset must be a dataset id (letters and digits) or ALL")
    if kind is Kind.PRIVACY_JOB:
        codes = regulations()
        if regulation is None:
            raise UsageError("PrivacyJob needs --regulation, e.g. gdpr or ccpa")
        if regulation.lower() not in codes:
            raise UsageError(f"--regulation must be one of: {', '.join(codes)}")
        regulation = regulation.lower()
        known = products()
        unknown = [p for p in include if p not in known]
        if unknown:
            raise UsageError(f"--include {unknown[0]!r} is not a product code: {', '.join(known)}")
        lowered = [p.lower() for p in include]
        if len(set(lowered)) != len(lowered):
            raise UsageError("--include names a product twice (Adobe ignores case)")
        include = include or DEFAULT_INCLUDE
        actions = actions or DEFAULT_ACTIONS
    return Options(
        kind=kind,
        name=options.name,
        dataset=dataset,
        display_name=options.display_name,
        description=options.description,
        ticket=options.ticket,
        regulation=regulation,
        include=include,
        actions=actions,
        namespace=options.namespace,
        folder=options.folder,
    )
