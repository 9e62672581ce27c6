"""Masking of identity values: the only form in which they may be shown."""

from __future__ import annotations

import re

# What is shown of an email's domain: the name itself, up to where anything else starts
# (a '>', a comma, a space and a name after it…). Letters and digits of any script, '.',
# '-' and '_', at most 64 characters.
_DOMAIN = re.compile(r"[\w.-]{1,64}")


def mask(value: str) -> str:
    """Mask an identity for display: ``poul.anderson@example.com`` → ``p***@example.com``.

    Emails keep the first character and their domain (useful to a reviewer, rarely
    personal), never what follows the domain: ``poul@example.com Poul`` →
    ``p***@example.com…``. Anything else keeps its first and last character only when
    long enough to hide the rest.
    """
    at = value.rfind("@")
    if at > 0:
        domain = _DOMAIN.match(value, at + 1)
        shown = domain.group() if domain else ""
        rest = "…" if at + 1 + len(shown) < len(value) else ""
        return f"{_printable(value[0])}***@{shown}{rest}"
    if len(value) >= 8:
        return f"{_printable(value[0])}***{_printable(value[-1])}"
    return "***"


def _printable(ch: str) -> str:
    return ch if ch.isprintable() and not ch.isspace() else "?"
