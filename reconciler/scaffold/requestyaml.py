"""The YAML text of a request written by ``reconciler new``.

:func:`build_document` lays out a request for some identities, :func:`header_comment`
says what merging it does, and :func:`render` writes both as YAML, marking the
placeholder of a template and the every-dataset flag for reviewers. Nothing here
prints or writes files.

Identity values enter a document only through :func:`identity_value`, which
encrypts them when ``reconciler.yaml`` lists ``encryption.recipients``, and
otherwise quotes those a YAML reader could take for a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from pyrage import x25519

from reconciler.model import API_VERSION
from reconciler.scaffold.csvids import CsvIdentity, CsvRow
from reconciler.scaffold.options import Options
from reconciler.secrets.crypto import encrypt

try:  # libyaml's emitter when present: several times faster on big requests.
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

# Strings that some YAML reader (1.1 or 1.2) would take for a number, boolean or null.
_NUMBER_LIKE = re.compile(
    r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"
    r"|^[-+]?0([xX][0-9a-fA-F_]+|[oO][0-7_]+|[bB][01_]+)$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$|^[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$"
    r"|^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~)$"
)


class _Quoted(str):
    """A string written in double quotes."""


class _Dumper(_SafeDumper):
    pass


def _represent_quoted(dumper: _Dumper, data: _Quoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(_Quoted, _represent_quoted)


def identity_value(identity: CsvIdentity, recipients: Sequence[x25519.Recipient] = ()) -> str:
    """The one place an identity value enters a request document.

    With ``recipients`` (``encryption.recipients`` in reconciler.yaml), the value
    is written encrypted for all of them (``ENC[age:…]``); otherwise in clear,
    double-quoted when a YAML reader could take it for a number
    (``443636576799758681021090721276``).
    """
    value = identity.value
    if recipients:
        return encrypt(value, recipients)
    return _Quoted(value) if _NUMBER_LIKE.match(value) else value


def build_document(
    options: Options, name: str, units: Sequence[CsvRow], first_user: int, part: str
) -> dict[str, Any]:
    """The request ``name`` for ``units``; ``first_user`` numbers a privacy job's users
    across parts, and ``part`` ends the display name of one part of several."""
    metadata: dict[str, Any] = {"name": name}
    if options.ticket:
        metadata["ticket"] = options.ticket
    return {
        "apiVersion": API_VERSION,
        "kind": options.kind.value,
        "metadata": metadata,
        "spec": options.kind.new_spec(options, units, first_user, part),
    }


def header_comment(
    options: Options, schema: str, number: int, count: int, template: bool
) -> list[str]:
    """The comment above the document: the schema for editors, and what merging it does."""
    lines = [f"# yaml-language-server: $schema={schema}"]
    of = f": part {number} of {count}" if count > 1 else ""
    lines.append(f"# Written by `reconciler new`{of}.")
    if template:
        lines.append(
            "# TEMPLATE: replace the placeholder identity (marked below) with the real ones"
        )
        lines.append("# before opening a pull request.")
    lines.extend(options.kind.new_notes(options))
    return lines


def render(document: dict[str, Any], header: list[str], placeholder: str | None) -> str:
    """The file's text: ``header``, then ``document`` as YAML, with the ``placeholder``
    identity (of a template) marked for whoever reads it."""
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 20)
    marked = re.compile(rf'(- |value: )"?{re.escape(placeholder)}"?') if placeholder else None
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if marked is not None and marked.search(line):
            lines[i] = line + "  # PLACEHOLDER: replace"
    return "\n".join([*header, *lines]) + "\n"
