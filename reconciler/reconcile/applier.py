"""The applier: carry out a plan at Adobe, recording each result as it lands.

Exactly once, for work orders and privacy jobs:

1. Before creating, look for the request's tag at Adobe; if found, record it
   (a previous run's response was lost, or the ledger was) instead of creating.
   For privacy jobs, which Adobe can only list by regulation, the plan's listing,
   made in the same run under the lock, is that look.
2. Create; write the ledger entry at once (atomically), before the next action.
3. If the create's outcome is unknown (connection lost after sending, 5xx),
   look for the tag again. Found: record it. Not found: do not send again in
   this run; report it, and the next run starts at step 1.

Consent opt-outs have no remote id (Adobe answers 202 without a body), so
step 1 is impossible: an unknown outcome is retried once, which is safe
because opting out twice has the same effect as once. The ledger is their
only record.

Identity values are read from the requests decrypted in memory (validation
decrypts them with the key from the environment); a plan that would send a
request whose values are still encrypted is refused before anything is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from reconciler.adobe import (
    AdobeClient,
    OutcomeUnknownError,
    PrivacyUser,
    WorkOrder,
)
from reconciler.errors import ReconcilerError
from reconciler.model import Kind, Request
from reconciler.reconcile.ledger import Entry, Fingerprint, Ledger, RemoteJob, StatusRecord, utc_now
from reconciler.reconcile.planner import Action, ActionType, Plan, RemoteObject
from reconciler.reconcile.remote import tagged_jobs, tagged_work_orders, work_order_object
from reconciler.reconcile.tagging import job_key, tagged

log = logging.getLogger("reconciler.apply")

# After an unknown outcome, how often (and how long apart) to look for the tag.
RECOVERY_LOOKUPS = 3
RECOVERY_WAIT_SECONDS = 1.0


class ApplyRefused(ReconcilerError):
    """The plan cannot be applied as it is (conflicts, too many identities, stale)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one action. ``message`` is safe to print and commit."""

    action: Action
    ok: bool
    message: str
    remote_ids: tuple[str, ...] = ()
    recovered: bool = False


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]

    @property
    def success(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, kind: ActionType) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.action.type is kind)


def check_plan(plan: Plan, max_identities: int) -> None:
    """Refuse plans that must not run: conflicts, or more identities than allowed."""
    if plan.conflicts:
        names = ", ".join(a.name for a in plan.conflicts)
        raise ApplyRefused(
            f"the plan has conflicts ({names}): an applied request's immutable fields changed. "
            "Restore those files and declare new requests instead; nothing was applied"
        )
    if plan.identities_to_submit > max_identities:
        raise ApplyRefused(
            f"the plan submits {plan.identities_to_submit:,} identities, more than the "
            f"{max_identities:,} allowed per run (limits.maxIdentitiesPerRun); raise it for "
            "this run with --max-identities if that is intended; nothing was applied"
        )


class Applier:
    """Executes the changing actions of a plan with the client's bounded concurrency."""

    def __init__(
        self,
        client: AdobeClient,
        ledger: Ledger,
        requests: Mapping[str, Request],
        *,
        today: Callable[[], date] = date.today,
        declared_in: Callable[[Request], str | None] = lambda r: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.requests = requests
        self.today = today
        self.declared_in = declared_in
        self.sleep = sleep
        self._lock = threading.Lock()

    def apply(self, plan: Plan, on_outcome: Callable[[Outcome], None] | None = None) -> ApplyResult:
        todo = [a for a in plan.actions if a.is_change]
        for action in todo:  # never send a ciphertext to Adobe: refuse before any call
            self.requests[action.name].require_plaintext()

        def one(action: Action) -> Outcome:
            outcome = self._run(action)
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        results = self.client.map_concurrently(one, todo)
        outcomes = []
        for result in results:
            if result.success:
                assert result.value is not None
                outcomes.append(result.value)
            else:
                outcomes.append(Outcome(result.item, False, _reason(result.error)))
        return ApplyResult(tuple(outcomes))

    # -- one action ---------------------------------------------------------------------

    def _run(self, action: Action) -> Outcome:
        request = self.requests[action.name]
        log.info("%s %s %s", action.type.value, request.kind.value, request.name)
        try:
            if action.type is ActionType.UPDATE:
                return self._update(action, request)
            if action.type is ActionType.ADOPT:
                return self._adopt(action, request)
            if request.kind is Kind.RECORD_DELETE:
                return self._create_work_order(action, request)
            if request.kind is Kind.PRIVACY_JOB:
                return self._create_jobs(action, request)
            return self._submit_consent(action, request)
        except ReconcilerError as e:  # AdobeError, ApplyRefused: this action failed alone
            return Outcome(action, False, _reason(e))

    def _record(self, entry: Entry) -> None:
        with self._lock:
            self.ledger.put(entry)
        log.info("%s recorded in the ledger (%s)", entry.name, ", ".join(entry.remote_ids) or "-")

    def _new_entry(self, request: Request, **remote: object) -> Entry:
        return Entry(
            name=request.name,
            kind=request.kind,
            path=request.path,
            fingerprint=Fingerprint.of(request),
            submitted_at=utc_now(),
            display_name=request.display_name,
            description=request.description,
            declared_in=self.declared_in(request),
            identity_count=request.identity_count(),
            **remote,  # type: ignore[arg-type]
        )

    def _record_order(
        self, action: Action, request: Request, order: WorkOrder | RemoteObject, recovered: bool
    ) -> Outcome:
        obj = order if isinstance(order, RemoteObject) else work_order_object(order)
        status = order.status if isinstance(order, WorkOrder) else "unknown"
        entry = self._new_entry(
            request,
            workorder_id=obj.remote_id,
            status=StatusRecord(status, utc_now()),
            recovered=recovered,
        )
        if recovered and (
            obj.display_name != request.display_name
            or obj.description != tagged(request.description, request.name)
        ):
            self.client.hygiene.update_work_order(
                obj.remote_id,
                display_name=request.display_name,
                description=tagged(request.description, request.name),
            )
        self._record(entry)
        verb = "found at Adobe and recorded" if recovered else "created"
        return Outcome(action, True, f"{verb} {obj.remote_id}", (obj.remote_id,), recovered)

    def _find_order(self, request: Request) -> RemoteObject | None:
        found = [work_order_object(o) for o in tagged_work_orders(self.client, request.name)]
        return min(found, key=lambda o: (o.created_at, o.remote_id)) if found else None

    def _create_work_order(self, action: Action, request: Request) -> Outcome:
        existing = self._find_order(request)
        if existing is not None:
            return self._record_order(action, request, existing, recovered=True)
        spec = request.spec
        kwargs: dict[str, object] = {
            "dataset_id": spec["datasetId"],
            "display_name": request.display_name,
            "description": tagged(request.description, request.name),
            "identities": [(i.namespace, i.value) for i in request.identities()],
        }
        if "targetServices" in spec:
            kwargs["target_services"] = spec["targetServices"]
        try:
            order = self.client.hygiene.create_work_order(**kwargs)  # type: ignore[arg-type]
        except OutcomeUnknownError:
            log.info("%s: outcome of the create unknown; looking for its tag", request.name)
            for attempt in range(RECOVERY_LOOKUPS):
                existing = self._find_order(request)
                if existing is not None:
                    return self._record_order(action, request, existing, recovered=True)
                self.sleep(RECOVERY_WAIT_SECONDS * (attempt + 1))
            return Outcome(
                action,
                False,
                "the create was sent but its outcome is unknown and it is not visible at Adobe "
                "yet; it was not sent again. Re-run apply later: it looks for it before creating",
            )
        return self._record_order(action, request, order, recovered=False)

    def _record_jobs(
        self, action: Action, request: Request, jobs: Sequence[RemoteObject], recovered: bool
    ) -> Outcome:
        remote_jobs = tuple(
            RemoteJob(job_id=j.remote_id, user_key=j.user_key, action=j.action, product=j.product)
            for j in jobs
        )
        request_ids = {j.request_id for j in jobs if j.request_id}
        entry = self._new_entry(
            request,
            request_id=next(iter(sorted(request_ids)), None),
            jobs=remote_jobs,
            status=StatusRecord("submitted", utc_now()),
            recovered=recovered,
        )
        self._record(entry)
        verb = "found at Adobe and recorded" if recovered else "created"
        ids = tuple(j.job_id for j in remote_jobs)
        return Outcome(action, True, f"{verb} {len(ids)} job(s)", ids, recovered)

    def _find_jobs(self, request: Request) -> list[RemoteObject]:
        regulation = str(request.spec["regulation"])
        return tagged_jobs(self.client, regulation, self.today(), request.name).get(
            request.name, []
        )

    def _create_jobs(self, action: Action, request: Request) -> Outcome:
        # Adobe cannot search jobs by user key, only list a regulation's jobs: the plan made
        # that listing moments ago, under the lock, and would have adopted what it found.
        # Listing again per create would grow with the organisation's history of jobs.
        spec = request.plain_spec()
        users = [
            PrivacyUser.from_spec({**u, "key": job_key(request.name, u["key"])})
            for u in spec["users"]
        ]
        expand = spec.get("expandIds", False)
        try:
            created = self.client.privacy.create_privacy_job(
                regulation=spec["regulation"],
                users=users,
                include=spec["include"],
                expand_ids=expand is True or expand == "true",
                priority=spec.get("priority"),
                analytics_delete_method=spec.get("analyticsDeleteMethod"),
                merge_policy_id=spec.get("mergePolicyId"),
            )
        except OutcomeUnknownError:
            log.info("%s: outcome of the job request unknown; looking for it", request.name)
            for attempt in range(RECOVERY_LOOKUPS):
                found = self._find_jobs(request)
                if found:
                    return self._record_jobs(action, request, found, recovered=True)
                self.sleep(RECOVERY_WAIT_SECONDS * (attempt + 1))
            return Outcome(
                action,
                False,
                "the privacy job request was sent but its outcome is unknown and no job is "
                "visible yet; it was not sent again. Re-run apply later",
            )
        jobs = [
            RemoteObject(
                remote_id=j.job_id,
                user_key=j.user_key or "",
                action=",".join(j.actions),
                request_id=created.request_id or "",
            )
            for j in created.jobs
        ]
        return self._record_jobs(action, request, jobs, recovered=False)

    def _submit_consent(self, action: Action, request: Request) -> Outcome:
        entities: dict[str, list[str]] = {}
        for e in request.plain_spec()["entities"]:
            entities.setdefault(e["nameSpace"], []).extend(e["values"])
        opt_out = bool(request.spec["optOutOfSale"])
        try:
            self.client.privacy.submit_consent(entities, opt_out_of_sale=opt_out)
        except OutcomeUnknownError:
            # No id to look for; sending an opt-out again has the same effect.
            self.client.privacy.submit_consent(entities, opt_out_of_sale=opt_out)
        self._record(self._new_entry(request, status=StatusRecord("submitted", utc_now())))
        return Outcome(action, True, "submitted (Adobe returns no id for consent)")

    def _adopt(self, action: Action, request: Request) -> Outcome:
        if request.kind is Kind.RECORD_DELETE:
            existing = self._find_order(request)
            if existing is None:
                raise ApplyRefused(f"{request.name}: the tagged work order is gone; plan again")
            return self._record_order(action, request, existing, recovered=True)
        found = self._find_jobs(request)
        if not found:
            raise ApplyRefused(f"{request.name}: the tagged privacy jobs are gone; plan again")
        return self._record_jobs(action, request, found, recovered=True)

    def _update(self, action: Action, request: Request) -> Outcome:
        entry = self.ledger.get(request.name)
        assert entry is not None and entry.workorder_id is not None
        order = self.client.hygiene.update_work_order(
            entry.workorder_id,
            display_name=request.display_name,
            description=tagged(request.description, request.name),
        )
        self._record(
            replace(
                entry,
                display_name=request.display_name,
                description=request.description,
                path=request.path,
                status=StatusRecord(order.status, utc_now()),
            )
        )
        fields = ", ".join(c.field for c in action.changes)
        return Outcome(action, True, f"updated {fields} of {entry.workorder_id}", entry.remote_ids)


def _reason(error: BaseException | None) -> str:
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"unexpected {error.__class__.__name__}" if error else "unknown failure"
