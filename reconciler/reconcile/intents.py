"""Write-ahead intents: a create is recorded before it is sent.

The ledger records what Adobe confirmed. Between sending a create and writing
its entry, a run can be killed, lose the answer or be told something it cannot
believe; without a record of the attempt, the next run would see a request
"not at Adobe" and create it again whenever Adobe's listings lag.

So, before any create, the applier writes an intent (``ledger/intents/NAME.json``:
the request, the tag the object will carry, when it was sent and how often),
fsynced, and with ``--push`` committed and pushed before anything is sent. When
the entry is written the intent is removed. A later run that finds an intent
and no entry never creates blindly: the plan looks for the tag (the tagged
search, then a listing without search over the intent's time window, matched
locally), records the object if it is there, and otherwise reports the
request as ``pending-verification`` until the grace period
(``apply.resendAfter`` in ``reconciler.yaml``) has passed since the last send.
Only then, or earlier for a request named with ``apply --resend NAME``, does the
plan create it again, saying so.

Holds names, tags and times: never an identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.kinds import Kind, RequestKind

SCHEMA = "ledger-intent.schema.json"
FOLDER = "intents"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Intent:
    """A create about to be sent, or sent with no outcome recorded."""

    name: str
    kind: RequestKind
    tag: str
    first_sent_at: datetime
    last_sent_at: datetime
    attempts: int = 1
    outcome: str = ""

    @classmethod
    def first(cls, name: str, kind: RequestKind, tag: str, now: datetime) -> Intent:
        return cls(name, kind, tag, now, now)

    def again(self, now: datetime) -> Intent:
        """The intent of one more create of the same request."""
        return replace(self, last_sent_at=now, attempts=self.attempts + 1, outcome="")

    def unknown(self, why: str) -> Intent:
        return replace(self, outcome=why[:300])

    def due(self, now: datetime, grace: timedelta) -> bool:
        """Whether the grace period after the latest send has passed."""
        return now - self.last_sent_at >= grace

    def resend_at(self, grace: timedelta) -> datetime:
        return self.last_sent_at + grace

    def describe(self) -> str:
        """The attempt in words, for plans and messages (no identity: names and times)."""
        times = "once" if self.attempts == 1 else f"{self.attempts} times"
        why = f" ({self.outcome})" if self.outcome else " (the run stopped before an answer)"
        return f"sent {times}, last at {_stamp(self.last_sent_at)[:19]}Z, outcome unknown{why}"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "apiVersion": "reconciler/v1",
            "name": self.name,
            "kind": self.kind.value,
            "tag": self.tag,
            "firstSentAt": _stamp(self.first_sent_at),
            "lastSentAt": _stamp(self.last_sent_at),
            "attempts": self.attempts,
        }
        if self.outcome:
            doc["outcome"] = self.outcome
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Intent:
        return cls(
            name=doc["name"],
            kind=Kind(doc["kind"]),
            tag=doc["tag"],
            first_sent_at=_moment(doc["firstSentAt"]),
            last_sent_at=_moment(doc["lastSentAt"]),
            attempts=doc["attempts"],
            outcome=doc.get("outcome", ""),
        )
