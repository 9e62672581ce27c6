"""How a remote object carries the name of the request that created it, and whose it is.

Work orders and dataset expirations: the description ends with
`` [reconciler:SCOPE/NAME]``. Privacy jobs: each user's ``key`` is sent as
``SCOPE/NAME:KEY``; names and scopes hold no colon or slash, so the first
colon and the first slash split it back.

The scope names the repository (``scope:`` in ``reconciler.yaml``, see
:mod:`reconciler.settings`). Privacy jobs are organisation-wide and work
orders are shared by everyone in a sandbox, so two repositories in one
organisation may both hold a request called ``jira-12345``; the scope keeps
each from finding, adopting or recovering the other's objects. Whose a tag is:

* ours: our scope, or no scope at all (``[reconciler:NAME]``, ``NAME:KEY``), the
  form written before scopes existed, so that objects created then keep
  working (never created again, never reported as orphans);
* another repository's: any other scope. Ignored: not adopted, not recovered,
  not reported.

Creates always write the scoped form. The planner and applier compare a remote
description with :func:`same_tagged`, which takes either form of our tag as the
request's, so a repository moving to scopes plans no update of its older
objects, and an update keeps the form the object has (:meth:`Scope.retagged`).

Neither of Adobe's specs bounds these fields (privacy-service.yaml,
``PrivacyUserDetails.key``: ``type: string``; data-hygiene.yaml,
``CreateWorkorderRequest.description`` and ``CreateTTLRequest.description``:
``type: string``), so the tag is kept short: a scope of at most 16 characters
adds 17 to a description's tag (at most 94 with the longest name) and to a job
key (at most 181 with the longest user key of the schema). Scopes are
lower-case letters and digits only: Adobe's ``search`` ignores case
(api-notes), and ``/`` and ``:`` are the separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG_PREFIX = "[reconciler:"
SCOPE_PATTERN = "[a-z0-9]{4,16}"
# A request's name as the request schema allows it (common.schema.json, $defs.name).
NAME_PATTERN = "[a-z0-9][-a-z0-9]{0,62}"
_TAG = re.compile(rf"\s*\[reconciler:(?:({SCOPE_PATTERN})/)?({NAME_PATTERN})\]\s*$")
_KEY = re.compile(rf"(?:({SCOPE_PATTERN})/)?({NAME_PATTERN}):(.+)", re.DOTALL)


@dataclass(frozen=True)
class Tag:
    """What one tag says: the request's name and the scope of the repository that wrote
    it (``""`` for the form written before scopes)."""

    name: str
    scope: str = ""

    def __str__(self) -> str:
        return f"{TAG_PREFIX}{self.scope + '/' if self.scope else ''}{self.name}]"


def read_tag(description: str | None) -> tuple[str, Tag | None]:
    """Split a remote description into the user's text and its tag (whatever its scope)."""
    text = description or ""
    match = _TAG.search(text)
    if match is None:
        return text, None
    return text[: match.start()], Tag(match.group(2), match.group(1) or "")


def read_job_key(key: str | None) -> tuple[Tag, str] | None:
    """A privacy job's user key as its tag and the user's own key (whatever the scope),
    or None for keys this tool did not write."""
    match = _KEY.fullmatch(key or "")
    if match is None:
        return None
    return Tag(match.group(2), match.group(1) or ""), match.group(3)


def _tagged(description: str, tag: Tag) -> str:
    return f"{description} {tag}" if description else str(tag)


def tagged(description: str, name: str) -> str:
    """The description with the tag of before scopes (``[reconciler:NAME]``)."""
    return _tagged(description, Tag(name))


def untag(description: str | None) -> tuple[str, str | None]:
    """The user's text and the tagged name, whatever the tag's scope (None: no tag)."""
    text, tag = read_tag(description)
    return text, tag.name if tag is not None else None


def split_job_key(key: str | None) -> tuple[str, str] | None:
    """``[SCOPE/]NAME:KEY`` back into the name and the user's key, whatever the scope."""
    parts = read_job_key(key)
    return (parts[0].name, parts[1]) if parts is not None else None


def same_tagged(remote: str, description: str, name: str) -> bool:
    """Whether a remote description is ``description`` with ``name``'s tag, in either form
    this tool writes (scoped or from before scopes): then it needs no update. The caller
    has already kept only objects of its own scope."""
    _, tag = read_tag(remote)
    return tag is not None and tag.name == name and remote == _tagged(description, tag)


@dataclass(frozen=True)
class Scope:
    """The repository a tag belongs to. ``Scope()`` (no value) is how a repository without
    one tags: the form of before scopes, which is then the only one it calls its own."""

    value: str = ""

    def __post_init__(self) -> None:
        if self.value and not re.fullmatch(SCOPE_PATTERN, self.value):
            raise ValueError(f"a scope is 4 to 16 lower-case letters and digits: {self.value!r}")

    def __str__(self) -> str:
        return self.value

    def owns(self, tag: Tag | None) -> bool:
        """Whether a tag is ours: our scope, or none (written before scopes)."""
        return tag is not None and tag.scope in ("", self.value)

    def tag(self, name: str) -> Tag:
        return Tag(name, self.value)

    def tagged(self, description: str, name: str) -> str:
        """The description as a create sends it to Adobe: the request's text, then its tag."""
        return _tagged(description, self.tag(name))

    def retagged(self, current: str | None, description: str, name: str) -> str:
        """The description an update sends: tagged as the object already is when it carries
        our tag of this name without a scope (no churn for older objects), else scoped."""
        _, tag = read_tag(current)
        if tag is not None and tag == Tag(name):
            return _tagged(description, tag)
        return self.tagged(description, name)

    def untag(self, description: str | None) -> tuple[str, str | None]:
        """The user's text and the tagged name, the name only when the tag is ours."""
        text, tag = read_tag(description)
        return text, tag.name if tag is not None and self.owns(tag) else None

    def search(self, name: str) -> str:
        """What to search work orders for to find ``name``'s, in one call: ``NAME]`` is in
        both forms of our tag (``[reconciler:SCOPE/NAME]`` and ``[reconciler:NAME]``), where
        searching each form would take two calls for every request not created yet. It also
        matches other scopes' and longer names ending the same way: the caller keeps ours
        by reading each tag (Adobe's search is an undocumented substring match, api-notes)."""
        return f"{name}]"

    def job_key(self, name: str, user_key: str) -> str:
        """The user key a create sends: ``SCOPE/NAME:KEY``."""
        return f"{self.value}/{name}:{user_key}" if self.value else f"{name}:{user_key}"

    def split_job_key(self, key: str | None) -> tuple[str, str] | None:
        """The name and the user's key of a job key that is ours; None for another scope's
        and for keys this tool did not write."""
        parts = read_job_key(key)
        if parts is None or not self.owns(parts[0]):
            return None
        return parts[0].name, parts[1]


UNSCOPED = Scope()
