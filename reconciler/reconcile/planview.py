"""Plans for people (text), for pull requests (markdown) and for tools (json).

The JSON shape, also the plan file's, is versioned (``"version": 1``)::

    {"version": 1, "kind": "reconciler-plan", "createdAt": str, "online": bool,
     "summary": {"create": n, "adopt": n, "update": n, "noop": n, "conflict": n,
                 "orphan": n, "identitiesToSubmit": n},
     "actions": [{"action", "name", "kind", "path", "reason", "identityCount",
                  "namespaces", "target", "changes": [{"field", "before", "after"}],
                  "remoteIds", "sandbox"}],
     "inputs": {"salt": hex, "digest": hex}}

No format holds an identity value: actions carry counts and namespaces only.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from reconciler.kinds.base import ListedKind
from reconciler.reconcile.ledger import utc_now
from reconciler.reconcile.planner import RETRY, Action, ActionType, Plan
from reconciler.reconcile.quota import Allowance, QuotaState

PLAN_VERSION = 1
# What a plan with no change can still hold that is not "Adobe matches the requests".
NOT_MATCHING = (ActionType.CONFLICT, ActionType.ORPHAN, ActionType.PENDING, ActionType.DEFER)
SYMBOL = {
    ActionType.CREATE: "+",
    ActionType.DEFER: ">",
    ActionType.ADOPT: "=",
    ActionType.UPDATE: "~",
    ActionType.CANCEL: "x",
    ActionType.NOOP: " ",
    ActionType.CONFLICT: "!",
    ActionType.ORPHAN: "-",
    ActionType.PENDING: "?",
}


def printable(text: str, limit: int = 120) -> str:
    """User text made safe for a terminal or a PR: no control or bidi characters."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def summary(plan: Plan) -> dict[str, int]:
    counts = {t.value: plan.count(t) for t in ActionType}
    counts["identitiesToSubmit"] = plan.identities_to_submit
    return counts


def headline(plan: Plan) -> str:
    where = "against Adobe" if plan.online else "offline, from the ledger"
    parts = [
        f"{plan.count(ActionType.CREATE)} to create",
        f"{plan.count(ActionType.UPDATE)} to update",
    ]
    if plan.count(ActionType.CANCEL):
        parts.append(f"{plan.count(ActionType.CANCEL)} to cancel")
    if plan.count(ActionType.DEFER):
        parts.append(f"{plan.count(ActionType.DEFER)} deferred (quota)")
    if plan.count(ActionType.ADOPT):
        parts.append(f"{plan.count(ActionType.ADOPT)} to record from Adobe")
    parts.append(f"{plan.count(ActionType.NOOP)} unchanged")
    if plan.count(ActionType.CONFLICT):
        parts.append(f"{plan.count(ActionType.CONFLICT)} in conflict")
    if plan.count(ActionType.ORPHAN):
        parts.append(f"{plan.count(ActionType.ORPHAN)} orphaned")
    if plan.count(ActionType.PENDING):
        parts.append(f"{plan.count(ActionType.PENDING)} pending verification")
    return f"Plan ({where}): " + ", ".join(parts)


def _detail(action: Action) -> str:
    if action.type in (
        ActionType.CREATE,
        ActionType.DEFER,
        ActionType.NOOP,
        ActionType.ADOPT,
        ActionType.CANCEL,
    ):
        ns = ", ".join(printable(n, 40) for n in action.namespaces)
        what = f"{action.identity_count:,} identit{'y' if action.identity_count == 1 else 'ies'}"
        text = f"{what} ({ns}) → " if ns else ""  # kinds that name no identity: the target
        text += printable(action.target)
        if action.remote_ids:
            text += (
                f" [{', '.join(action.remote_ids[:3])}{'…' if len(action.remote_ids) > 3 else ''}]"
            )
        return text
    if action.type is ActionType.UPDATE:
        return "; ".join(
            f"{c.field}: {json.dumps(printable(c.before))} → {json.dumps(printable(c.after))}"
            for c in action.changes
        )
    return printable(action.reason, 300)


ORG_WIDE = "organisation-wide (Privacy Service)"
# A Data Hygiene action whose sandbox is not known here (an offline plan where
# adobe.sandboxName is not set): it goes to the default sandbox, whichever it is.
DEFAULT_SANDBOX = "the default sandbox (adobe.sandboxName)"


def by_sandbox(actions: Sequence[Action]) -> list[tuple[str, list[Action]]]:
    """``actions`` grouped by the sandbox they act in, each group headed by it
    (sandboxes sorted, then the org-wide kinds), in plan order within a group. When at
    most one sandbox is involved, one group with no heading: a plan that goes to one
    sandbox reads as it always did."""
    groups: dict[str, list[Action]] = {}
    for action in actions:
        if action.sandbox:
            heading = f"sandbox {action.sandbox}"
        else:
            heading = DEFAULT_SANDBOX if isinstance(action.kind, ListedKind) else ORG_WIDE
        groups.setdefault(heading, []).append(action)
    if len([h for h in groups if h != ORG_WIDE]) <= 1:
        return [("", list(actions))] if actions else []
    order = sorted(groups, key=lambda h: (h == ORG_WIDE, h == DEFAULT_SANDBOX, h))
    return [(heading, groups[heading]) for heading in order]


def text(plan: Plan) -> str:
    lines = [headline(plan), ""]
    lines += [f"  note: {printable(n, 400)}" for n in plan.notes]
    if plan.notes:
        lines.append("")
    width = max((len(a.name) for a in plan.actions), default=0)
    shown = [a for a in plan.actions if a.type is not ActionType.NOOP]
    for heading, group in by_sandbox(shown):
        if heading:
            lines.append(f"  In {heading}:")
        for a in group:
            head = f"  {SYMBOL[a.type]} {a.type.value:<8} {a.kind.value:<17} {a.name:<{width}}"
            lines.append(f"{head}  {_detail(a)}")
            shows_reason = a.type in (ActionType.ADOPT, ActionType.CANCEL, ActionType.DEFER)
            if shows_reason or a.resend or RETRY in a.reason:
                lines.append(f"    {printable(a.reason, 300)}")
            if a.deadline is not None:
                lines.append(f"    deadline: {a.deadline}")
    if not plan.has_changes and not any(plan.count(t) for t in NOT_MATCHING):
        lines.append("  No changes. Adobe matches the requests.")
    if plan.identities_to_submit:
        lines += ["", f"Identities to submit: {plan.identities_to_submit:,}"]
    lines += _quota_text(plan.quota)
    return "\n".join(lines).rstrip()


def _quota_source(quota: QuotaState) -> str:
    if not quota.estimated:
        return "from Adobe's GET /quota"
    return printable(quota.note, 300) if quota.note else "estimated from the ledger"


def _quota_text(quota: QuotaState | None) -> list[str]:
    if quota is None or not quota.allowances:
        return []
    width = max(len(a.label) for a in quota.allowances)
    lines = ["", f"Quota ({_quota_source(quota)}):"]
    for a in quota.allowances:
        lines.append(
            f"  {a.label:<{width}}  {a.consumed:,} used of {a.limit:,}{_limit_note(a)}; "
            f"this plan {a.planned:,}; {a.left_after:,} left after it"
        )
    return lines


def _limit_note(a: Allowance) -> str:
    if a.budget is not None and a.budget == a.limit and a.adobe_limit not in (None, a.limit):
        return f" (budget in limits; Adobe's {a.adobe_limit:,})"
    return ""


def _md(text: str) -> str:
    return printable(text, 300).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown(plan: Plan) -> str:
    lines = [f"### {headline(plan)}", ""]
    for note in plan.notes:
        lines += ["> [!NOTE]", f"> {_md(note)}", ""]
    shown = [a for a in plan.actions if a.type is not ActionType.NOOP]
    if shown:
        for n, (heading, group) in enumerate(by_sandbox(shown)):
            if heading:
                lines += ([""] if n else []) + [f"**In {heading}**", ""]
            lines += ["| | Action | Kind | Request | Details |", "|---|---|---|---|---|"]
            for a in group:
                due = f" (deadline: {a.deadline})" if a.deadline is not None else ""
                lines.append(
                    f"| {SYMBOL[a.type]} | **{a.type.value}** | {a.kind.value} | `{a.name}` "
                    f"| {_md(_detail(a) + due)} |"
                )
    elif not any(plan.count(t) for t in NOT_MATCHING):
        lines.append("No changes. Adobe matches the requests.")
    if plan.identities_to_submit:
        lines += ["", f"**Identities to submit:** {plan.identities_to_submit:,}"]
    lines += _quota_markdown(plan.quota)
    resent = [a for a in shown if a.resend]
    if resent:
        lines += [
            "",
            "> [!WARNING]",
            f"> {len(resent)} request(s) are sent again although an earlier create's outcome is "
            "unknown: " + "; ".join(f"`{a.name}`: {_md(a.reason)}" for a in resent[:5]),
        ]
    if plan.conflicts:
        lines += [
            "",
            "> [!CAUTION]",
            "> Requests in conflict will not be applied: each needs a person (its reason "
            "says what Adobe or the ledger holds and what to do).",
        ]
    alls = [a for a in shown if a.type is ActionType.CREATE and a.target == "dataset ALL"]
    if alls:
        lines += [
            "",
            "> [!WARNING]",
            "> Deletes from **every dataset** of the sandbox: "
            + ", ".join(f"`{a.name}`" for a in alls),
        ]
    return "\n".join(lines)


def _quota_markdown(quota: QuotaState | None) -> list[str]:
    if quota is None or not quota.allowances:
        return []
    lines = [
        "",
        f"**Quota** ({_md(_quota_source(quota))})",
        "",
        "| Quota | Used | Limit | This plan | Left after |",
        "|---|--:|--:|--:|--:|",
    ]
    for a in quota.allowances:
        lines.append(
            f"| {a.label} | {a.consumed:,} | {a.limit:,}{_md(_limit_note(a))} | {a.planned:,} "
            f"| {a.left_after:,} |"
        )
    return lines


def to_json(plan: Plan, salt: str = "", digest: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": PLAN_VERSION,
        "kind": "reconciler-plan",
        "createdAt": utc_now(),
        "online": plan.online,
        "summary": summary(plan),
        "notes": list(plan.notes),
        "quota": plan.quota.to_json() if plan.quota is not None else None,
        "actions": [a.to_json() for a in plan.actions],
    }
    if digest:
        doc["inputs"] = {"salt": salt, "digest": digest}
    return doc


def as_json(plan: Plan) -> str:
    return json.dumps(to_json(plan), indent=2, ensure_ascii=False)


FORMATS = {"text": text, "markdown": markdown, "json": as_json}
