"""Typed reads from untrusted JSON objects.

Every failure is an ``InvalidResponseError`` that names the object and field, never
the value (it could be an identity).
"""

from __future__ import annotations

import re

from reconciler.adobe.errors import InvalidResponseError

# Ids go back into URL paths, so only a safe shape is accepted: work orders
# ``DI-…``, bundles ``BN-…``, jobs are UUIDs, request ids ``16203318964318668RX-054``.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def is_safe_id(value: object) -> bool:
    return isinstance(value, str) and SAFE_ID.fullmatch(value) is not None


class Fields:
    """One JSON object from the server, read field by field with type checks."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise InvalidResponseError(f"{where}: expected an object, got {_type(data)}")
        self.data: dict[str, object] = data
        self.where = where

    def _bad(self, name: str, expected: str) -> InvalidResponseError:
        got = _type(self.data.get(name))
        return InvalidResponseError(f"{self.where}: field {name!r} should be {expected}, got {got}")

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def opt_text(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.text(name)

    def ident(self, name: str) -> str:
        value = self.text(name)
        if not is_safe_id(value):
            raise InvalidResponseError(f"{self.where}: field {name!r} is not a well-formed id")
        return value

    def opt_ident(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.ident(name)

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(name, "an integer")
        return value

    def count(self, name: str) -> int:
        value = self.integer(name)
        if value < 0:
            raise InvalidResponseError(f"{self.where}: field {name!r} is negative")
        return value

    def opt_count(self, name: str) -> int | None:
        return None if self.data.get(name) is None else self.count(name)

    def array(self, name: str) -> list[object]:
        value = self.data.get(name)
        if not isinstance(value, list):
            raise self._bad(name, "a list")
        return value

    def opt_array(self, name: str) -> list[object]:
        return [] if self.data.get(name) is None else self.array(name)

    def texts(self, name: str) -> tuple[str, ...]:
        items = self.opt_array(name)
        if not all(isinstance(item, str) for item in items):
            raise InvalidResponseError(f"{self.where}: field {name!r} should hold strings only")
        return tuple(str(item) for item in items)

    def objects(self, name: str, *, required: bool = False) -> list[Fields]:
        items = self.array(name) if required else self.opt_array(name)
        return [Fields(item, f"{self.where}: {name}[{i}]") for i, item in enumerate(items)]

    def obj(self, name: str) -> Fields:
        return Fields(self.data.get(name), f"{self.where}: {name}")


def _type(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
