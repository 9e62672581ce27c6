"""Alerts: one per applied request that needs a person, for the scheduled workflow to keep
as one GitHub issue each (opened, updated, closed once resolved).

A request needs a person when Adobe failed it or no longer has it (and no request
retries it: ``metadata.retryOf``), or when its deadline is in the states asked for
(``overdue`` by default). An alert names the request, its kind, remote ids, Adobe's
status and codes explained, and its deadline: never an identity value. Its ``key``
(``reconciler-alert:NAME``) is written into the issue as a hidden marker, so the issue of
a request is found again whatever its title became.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.adobe.outcomes import explain
from reconciler.reconcile.deadlines import Deadline, State
from reconciler.reconcile.ledger import Entry
from reconciler.reconcile.lifecycle import failed

MARKER = "reconciler-alert:"


@dataclass(frozen=True)
class Alert:
    name: str
    title: str
    body: str

    @property
    def key(self) -> str:
        return f"{MARKER}{self.name}"

    @property
    def marker(self) -> str:
        return f"<!-- {self.key} -->"

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name, "title": self.title, "body": self.body}


def alerts(
    entries: Iterable[Entry],
    deadlines: Mapping[str, Deadline],
    retried: Mapping[str, str],
    states: frozenset[State],
) -> list[Alert]:
    """The alerts of ``entries``, by name."""
    found = []
    for entry in sorted(entries, key=lambda e: e.name):
        due = deadlines.get(entry.name)
        broken = failed(entry) and entry.name not in retried
        late = due is not None and due.state in states
        if not broken and not late:
            continue
        found.append(_alert(entry, due if late else None, broken))
    return found


def _alert(entry: Entry, due: Deadline | None, broken: bool) -> Alert:
    status = entry.status.value if entry.status else "unknown"
    if broken:
        title = f"reconciler: {entry.name} {status} at Adobe"
    else:
        assert due is not None
        title = f"reconciler: {entry.name} is {due.state.value} (due {due.due_by})"
    lines = [
        f"**Request** `{entry.name}` ({entry.kind.value}, `{entry.path}`)",
        f"**Remote ids** {', '.join(f'`{i}`' for i in entry.remote_ids[:10]) or 'none'}",
        f"**Status at Adobe** {status}"
        + (f" (observed {entry.status.observed_at})" if entry.status else ""),
    ]
    codes = sorted(set(entry.status.codes)) if entry.status else []
    lines += [f"- {product}: {explain(code)}" for product, code in codes]
    if due is not None:
        lines.append(f"**Deadline** received {due.received_at}, {due} ({due.regulation})")
    if broken:
        lines.append(
            "**What to do** find the cause (`reconciler audit "
            f"{entry.name}`), then declare a new request with `metadata.retryOf: "
            f"{entry.name}`; this issue closes once that request exists."
        )
    else:
        lines.append(
            "**What to do** answer the data subject within the period, or record an extension "
            "the regulation allows (`metadata.extension`); this issue closes once the request "
            "is met or extended."
        )
    body = "\n\n".join(lines) + f"\n\n{MARKER_NOTE}\n<!-- {MARKER}{entry.name} -->\n"
    return Alert(entry.name, title, body)


MARKER_NOTE = "_Kept by the reconciler status workflow: it updates and closes this issue._"
