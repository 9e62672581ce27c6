"""Make text that came from a server safe for an exception message or a log line."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_MESSAGE_CHARS = 300
REDACTED = "[redacted]"

# An e-mail address anywhere in a server message is treated as an identity and never copied.
_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[^\s@<>\"'(),;:]+")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


def clean_text(text: str, *, redact: Iterable[str] = (), limit: int = MAX_MESSAGE_CHARS) -> str:
    """Strip control/format characters, redact the given values and e-mails, truncate."""
    for value in sorted({v for v in redact if v}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _EMAIL.sub(REDACTED, text)
    # Category C covers control, format (bidi overrides, zero-width), surrogates, unassigned.
    text = "".join(
        " " if unicodedata.category(ch).startswith("C") or ch.isspace() else ch for ch in text
    )
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_error_code(value: object) -> str | None:
    """A short, plain error code (``400001``, ``HYGN-3102-400``); anything else is dropped."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
        return value
    return None
