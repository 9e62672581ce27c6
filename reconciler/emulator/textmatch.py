"""Text predicates shared by the list filters and the SQL functions that apply them."""

from __future__ import annotations

import re


def contains_folded(needle: str, *texts: str) -> bool:
    """Whether any text contains ``needle``, ignoring case as Python's ``str.lower`` does."""
    folded = needle.lower()
    for text in texts:  # a loop, not any(): SQLite calls this once per row searched
        if folded in text.lower():
            return True
    return False


def _like(pattern: str, value: str) -> bool:
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.strip()
    )
    return re.fullmatch(regex, value, re.DOTALL) is not None


def author_matches(author: str, created_by: str) -> bool:
    """The ``author`` filter: ``LIKE``/``NOT LIKE`` patterns, else an exact match."""
    if author.startswith("NOT LIKE "):
        return not _like(author[len("NOT LIKE ") :], created_by)
    if author.startswith("LIKE "):
        return _like(author[len("LIKE ") :], created_by)
    return author == created_by
