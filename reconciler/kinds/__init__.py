"""The request kinds: one module each, registered here.

``Kind`` is the registry: ``Kind.RECORD_DELETE`` is the record-delete kind,
``Kind("PrivacyJob")`` looks one up by the name files use (an unknown name is
:class:`UnknownKindError`, never a fall-through), and ``for kind in Kind``
visits them all in the order below. Adding a kind is a module with a
:class:`~reconciler.kinds.base.RequestKind`, one line here, its schema, its
emulator part, an example and the docs.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.kinds import consent_opt_out, dataset_expiration, privacy_job, record_delete
from reconciler.kinds.base import RequestKind, UnknownKindError


class _Registry:
    RECORD_DELETE = record_delete.KIND
    PRIVACY_JOB = privacy_job.KIND
    CONSENT_OPT_OUT = consent_opt_out.KIND
    DATASET_EXPIRATION = dataset_expiration.KIND

    def __init__(self) -> None:
        kinds = (
            self.RECORD_DELETE,
            self.PRIVACY_JOB,
            self.CONSENT_OPT_OUT,
            self.DATASET_EXPIRATION,
        )
        self._by_value = {k.value: k for k in kinds}

    def __call__(self, value: object) -> RequestKind:
        key = value.value if isinstance(value, RequestKind) else value
        found = self._by_value.get(key) if isinstance(key, str) else None
        if found is None:
            known = ", ".join(self._by_value)
            raise UnknownKindError(f"unknown kind {value!r}; the kinds are {known}")
        return found

    def __iter__(self) -> Iterator[RequestKind]:
        return iter(self._by_value.values())

    def __len__(self) -> int:
        return len(self._by_value)

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_value)


Kind = _Registry()

__all__ = ["Kind", "RequestKind", "UnknownKindError"]
