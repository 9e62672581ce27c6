"""Masking of identity values: the only form in which they may be shown."""

from __future__ import annotations


def mask(value: str) -> str:
    """Mask an identity for display: ``poul.anderson@example.com`` → ``p***@example.com``.

    Emails keep their domain (useful to a reviewer, rarely personal); anything
    else keeps its first and last character only when long enough to hide the rest.
    """
    text = "".join(ch if ch.isprintable() else "?" for ch in value)
    local, at, domain = text.rpartition("@")
    if at and local:
        return f"{local[0]}***@{domain[:64]}"
    if len(text) >= 8:
        return f"{text[0]}***{text[-1]}"
    return "***"
