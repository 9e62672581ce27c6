"""How a remote object carries the name of the request that created it.

Work orders: the description ends with `` [reconciler:NAME]``. Adobe's list
endpoint searches descriptions by substring, so ``search=[reconciler:NAME]``
finds exactly this request's work orders (the closing bracket keeps
``jira-1`` from matching ``jira-12``). The planner strips the tag before
comparing descriptions.

Privacy jobs: each user's ``key`` is sent as ``NAME:KEY``; names hold no
colon, so the first colon splits it back.
"""

from __future__ import annotations

import re

TAG_PREFIX = "[reconciler:"
_TAG = re.compile(r"\s*\[reconciler:([a-z0-9][-a-z0-9]{0,62})\]\s*$")


def tag(name: str) -> str:
    return f"{TAG_PREFIX}{name}]"


def tagged(description: str, name: str) -> str:
    """The description as sent to Adobe: the request's text, then its tag."""
    return f"{description} {tag(name)}" if description else tag(name)


def untag(description: str | None) -> tuple[str, str | None]:
    """Split a remote description into the user's text and the tagged name (if any)."""
    text = description or ""
    match = _TAG.search(text)
    if match is None:
        return text, None
    return text[: match.start()], match.group(1)


def job_key(name: str, user_key: str) -> str:
    return f"{name}:{user_key}"


def split_job_key(key: str | None) -> tuple[str, str] | None:
    """``NAME:KEY`` back into its parts, or None for keys this tool did not write."""
    if not key or ":" not in key:
        return None
    name, _, user = key.partition(":")
    return (name, user) if re.fullmatch(r"[a-z0-9][-a-z0-9]{0,62}", name) else None
