"""``PrivacyJob``: a Privacy Service job, Adobe's way to answer data-subject requests.

Adobe creates one job per user and product; each carries the user key, which
holds the repository's scope and the request's name
(:meth:`~reconciler.reconcile.tagging.Scope.job_key`). Jobs are
organisation-wide, cannot be searched by user key, only listed per regulation
(every repository's: ours are kept by reading each key), and Adobe lists them
at most 60 days back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.adobe import NotFoundError, PrivacyJobStatus, PrivacyUser
from reconciler.adobe.codes import product_key
from reconciler.adobe.outcomes import SUCCESS
from reconciler.check.findings import finding_at
from reconciler.errors import UsageError
from reconciler.kinds.base import (
    Applied,
    Created,
    Listing,
    RemoteObject,
    RequestKind,
    StatusRecord,
    utc_now,
)
from reconciler.reconcile.deadlines import PERIODS, Period
from reconciler.reconcile.tagging import Scope, split_job_key
from reconciler.schemas import validator
from reconciler.settings import ADOBE_MAX_USERS_PER_JOB

if TYPE_CHECKING:
    from reconciler.adobe import AdobeClient
    from reconciler.adobe.models import CreatedJob, PrivacyJobsCreated
    from reconciler.check.findings import Finding
    from reconciler.model import Request
    from reconciler.scaffold.csvids import CsvRow
    from reconciler.scaffold.options import Options
    from reconciler.settings import Settings
    from reconciler.yamlfile import PathKey

# Adobe lists privacy jobs at most 60 days back.
JOB_LOOKBACK_DAYS = 59
# Privacy Service products of Experience Platform: data lake, identity graph, profile store
# (codes as reconciler/adobe/codes.py spells them).
DEFAULT_INCLUDE = ("AdobeCloudPlatform", "identity", "profileService")
DEFAULT_ACTIONS = ("delete",)


def tagged_jobs(
    client: AdobeClient, regulation: str, today: date, scope: Scope, name: str | None = None
) -> dict[str, list[RemoteObject]]:
    """Privacy jobs whose user key carries a request name in ``scope`` (or no scope), by name."""
    found: dict[str, list[RemoteObject]] = defaultdict(list)
    start = today - timedelta(days=JOB_LOOKBACK_DAYS)
    for job in client.privacy.iter_privacy_jobs(regulation, from_date=start, to_date=today):
        parts = scope.split_job_key(job.user_key)
        if parts is None or (name is not None and parts[0] != name):
            continue
        found[parts[0]].append(
            RemoteObject(
                remote_id=job.job_id,
                user_key=job.user_key or "",
                action=job.action or "",
                request_id=job.request_id or "",
            )
        )
    return found


def job_summary(statuses: Sequence[str]) -> str:
    """One status for a request's jobs: the worst, or complete when all are."""
    if any(s == "error" for s in statuses):
        return "error"
    if statuses and all(s == "complete" for s in statuses):
        return "complete"
    if any(s == "processing" for s in statuses):
        return "processing"
    return "submitted" if statuses else "unknown"


class PrivacyJob(RequestKind):
    value = "PrivacyJob"
    schema = "privacy-job.schema.json"
    folder = "privacy-jobs"
    noun = "privacy job"
    # The plan lists the regulation's jobs moments before, under the lock: listing again
    # per create would grow with the organisation's history of jobs.
    look_before_create = False
    found_status = "submitted"
    final_statuses = frozenset(s.value for s in PrivacyJobStatus if s.is_final)
    done_statuses = frozenset({PrivacyJobStatus.COMPLETE.value})

    def identity_paths(self, spec: Mapping[str, Any]) -> Iterator[tuple[str, str, PathKey]]:
        for i, user in enumerate(spec["users"]):
            for j, uid in enumerate(user["userIDs"]):
                yield uid["namespace"], uid["value"], ("spec", "users", i, "userIDs", j, "value")

    def deadline_period(self, request_spec: Mapping[str, Any]) -> Period | None:
        code = str(request_spec.get("regulation", ""))
        known = PERIODS.get(code)
        if known is not None:
            return known
        return Period(code, None, None, "not in the table of response periods")

    def target(self, spec: Mapping[str, Any]) -> str:
        return f"{spec['regulation']}: {', '.join(spec['include'])}"

    def mismatch(self, request: Request, obj: RemoteObject) -> tuple[str, ...]:
        # A job is one user's: its key must be one of the file's users (tagged with the
        # request's name, with our scope or none: only ours reach here), its action one
        # that user asks for. The key itself is not shown.
        users = {(request.name, u["key"]): u for u in request.spec["users"]}
        parts = split_job_key(obj.user_key)
        user = users.get(parts) if parts is not None else None
        if user is None:
            return ("its user key is none of the users this file declares",)
        actions = {a for a in obj.action.split(",") if a}
        declared = {str(a) for a in user["action"]}
        if actions and not actions <= declared:
            return (
                f"action is {', '.join(sorted(actions))} at Adobe but "
                f"{', '.join(sorted(declared))} in the file",
            )
        return ()

    def _spec_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = validator(self.schema).schema  # type: ignore[assignment]
        spec: dict[str, Any] = schema["properties"]["spec"]["properties"]
        return spec

    def regulations(self) -> tuple[str, ...]:
        """Adobe's regulation codes, as the schema lists them."""
        return tuple(self._spec_schema()["regulation"]["enum"])

    def products(self) -> tuple[str, ...]:
        """Privacy Service product codes, as the schema lists them."""
        return tuple(self._spec_schema()["include"]["items"]["enum"])

    # -- `reconciler new` -------------------------------------------------------------

    new_unit = ("user", "users")
    new_per_user = True
    new_flags = {"--regulation": "regulation", "--include": "include", "--action": "actions"}

    def new_check(self, options: Options) -> dict[str, Any]:
        codes = self.regulations()
        regulation = options.regulation
        if regulation is None:
            raise UsageError("PrivacyJob needs --regulation, e.g. gdpr or ccpa")
        if regulation.lower() not in codes:
            raise UsageError(f"--regulation must be one of: {', '.join(codes)}")
        known = self.products()
        include = tuple(dict.fromkeys(options.include))
        unknown = [p for p in include if p not in known]
        if unknown:
            raise UsageError(f"--include {unknown[0]!r} is not a product code: {', '.join(known)}")
        lowered = [product_key(p) for p in include]
        if len(set(lowered)) != len(lowered):
            raise UsageError("--include names a product twice (Adobe ignores case)")
        return {
            "regulation": regulation.lower(),
            "include": include or DEFAULT_INCLUDE,
            "actions": tuple(dict.fromkeys(options.actions)) or DEFAULT_ACTIONS,
        }

    def new_limits(self, per_request: int) -> tuple[int, int | None, int | None]:
        return per_request, ADOBE_MAX_USERS_PER_JOB, None

    def new_spec(
        self, options: Options, units: Sequence[CsvRow], first_user: int, part: str
    ) -> dict[str, Any]:
        users = [
            {
                "key": f"{options.name}-u{first_user + n}",
                "action": list(options.actions),
                "userIDs": [
                    {"namespace": i.namespace, "value": i.value, "type": "standard"}
                    for i in unit.identities
                ],
            }
            for n, unit in enumerate(units)
        ]
        return {"regulation": options.regulation, "include": list(options.include), "users": users}

    def new_notes(self, options: Options) -> list[str]:
        return [
            f"# Once merged, Privacy Service runs {' and '.join(options.actions)} jobs under "
            f"{options.regulation}",
            "# for each user and each product in `include`.",
            "# userIDs are `type: standard`; use `custom` for a custom namespace.",
        ]

    def rules(self, request: Request, settings: Settings) -> Iterator[Finding]:
        seen: dict[str, int] = {}
        for i, user in enumerate(request.spec["users"]):
            key = user["key"]
            if key in seen:
                line = request.where("spec", "users", seen[key], "key").line
                yield finding_at(
                    request,
                    ("spec", "users", i, "key"),
                    "duplicate-user-key",
                    f"user key {key!r} is used twice (first on line {line}); keys must be unique",
                )
            else:
                seen[key] = i
        products: set[str] = set()
        for i, product in enumerate(request.spec["include"]):
            if product_key(product) in products:
                yield finding_at(
                    request,
                    ("spec", "include", i),
                    "duplicate-product",
                    f"product {product!r} is listed twice (Adobe ignores case, and "
                    "aepDataLake is AdobeCloudPlatform); remove one",
                )
            products.add(product_key(product))

    # -- Adobe ------------------------------------------------------------------------

    def read(
        self,
        client: AdobeClient,
        unrecorded: Sequence[Request],
        applied: Sequence[Applied],
        today: date,
        scope: Scope,
    ) -> Listing:
        by_name: dict[str, list[RemoteObject]] = defaultdict(list)
        for regulation in sorted({str(r.spec["regulation"]) for r in unrecorded}):
            for name, jobs in tagged_jobs(client, regulation, today, scope).items():
                by_name[name].extend(jobs)
        return Listing(by_name)

    def find(
        self, client: AdobeClient, request: Request, today: date, scope: Scope
    ) -> list[RemoteObject]:
        regulation = str(request.spec["regulation"])
        return tagged_jobs(client, regulation, today, scope, request.name).get(request.name, [])

    def find_since(
        self, client: AdobeClient, request: Request, since: date, today: date, scope: Scope
    ) -> list[RemoteObject]:
        # ``read`` already listed every job of the regulation over the whole window
        # Adobe keeps, without search: there is nothing more to look at.
        return []

    def create(self, client: AdobeClient, request: Request, scope: Scope) -> Created:
        spec = request.plain_spec()
        created = client.privacy.create_privacy_job(users=_users(request, scope), **_options(spec))
        return Created(_jobs(created, created.jobs), "submitted", created.request_id or "")

    # -- several requests in one POST /jobs ------------------------------------------

    # Adobe takes at most 1,000 users in one POST /jobs, and asks for as many per
    # submission as possible (api-notes.md, "Batching guidance").
    max_batch = ADOBE_MAX_USERS_PER_JOB

    def batch_key(self, request: Request) -> Hashable | None:
        # Everything of the body but its users: requests that differ in any of it are
        # separate submissions. Products in order of their code (Adobe reads include as
        # a set), options as the create sends them.
        options = _options(request.spec)  # none of it is an identity: nothing to decrypt
        return (
            options["regulation"],
            tuple(sorted(options["include"])),
            options["expand_ids"],
            options["priority"],
            options["analytics_delete_method"],
            options["merge_policy_id"],
        )

    def batch_size(self, request: Request) -> int:
        return len(request.spec["users"])

    def create_batch(
        self, client: AdobeClient, requests: Sequence[Request], scope: Scope
    ) -> Mapping[str, Created]:
        users = [user for request in requests for user in _users(request, scope)]
        created = client.privacy.create_privacy_job(
            users=users, **_options(requests[0].plain_spec()), partial_answer=True
        )
        # Each job back to its request by the user key it carries. A job without a key
        # could be anyone's: then no request's set of jobs is known to be whole.
        if any(not j.user_key for j in created.jobs):
            return {}
        by_name: dict[str, list[CreatedJob]] = defaultdict(list)
        answered: dict[str, set[str]] = defaultdict(set)
        for job in created.jobs:
            parts = scope.split_job_key(job.user_key)
            if parts is None:
                return {}  # not a key this batch sent (the client checked): nothing holds
            by_name[parts[0]].append(job)
            answered[parts[0]].add(parts[1])
        result: dict[str, Created] = {}
        for request in requests:
            # A request is answered when every one of its users has a job; one with some
            # users left out is not recorded from the answer (its outcome is unknown).
            if answered[request.name] == {u["key"] for u in request.spec["users"]}:
                jobs = _jobs(created, by_name[request.name])
                result[request.name] = Created(jobs, "submitted", created.request_id or "")
        return result

    def find_batch(
        self, client: AdobeClient, requests: Sequence[Request], today: date, scope: Scope
    ) -> Mapping[str, list[RemoteObject]]:
        # One listing per regulation for every request of it, not one per request.
        names = {r.name for r in requests}
        found: dict[str, list[RemoteObject]] = {name: [] for name in names}
        for regulation in sorted({str(r.spec["regulation"]) for r in requests}):
            for name, jobs in tagged_jobs(client, regulation, today, scope).items():
                if name in names:
                    found[name].extend(jobs)
        return found

    def refresh(self, client: AdobeClient, entry: Applied) -> StatusRecord | None:
        if not entry.jobs:
            return None
        statuses = []
        per_job = []
        codes: list[tuple[str, str]] = []
        for job in entry.jobs:
            # One job per user and product: its product names the pair, not its id (which
            # the ledger's remote.jobs holds).
            product = job.product or ""
            try:
                found = client.privacy.get_privacy_job(job.job_id)
            except NotFoundError:
                state = "not-found"  # Adobe keeps job data 30 days after completion
            else:
                state = found.state.value
                for response in found.product_responses:
                    product = product or (response.product or "")
                    code = (response.response_msg_code or "").strip()[:16]
                    if code and code != SUCCESS:
                        codes.append((response.product or product or "?", code))
            statuses.append(state)
            per_job.append((product or f"job {job.job_id}", state))
        return StatusRecord(job_summary(statuses), utc_now(), tuple(per_job), tuple(codes))


def _users(request: Request, scope: Scope) -> list[PrivacyUser]:
    """The request's users as a create sends them: each key tagged with the request's name."""
    return [
        PrivacyUser.from_spec({**u, "key": scope.job_key(request.name, u["key"])})
        for u in request.plain_spec()["users"]
    ]


def _options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The create's arguments other than its users."""
    expand = spec.get("expandIds", False)
    return {
        "regulation": str(spec["regulation"]),
        "include": list(spec["include"]),
        "expand_ids": expand is True or expand == "true",
        "priority": spec.get("priority"),
        "analytics_delete_method": spec.get("analyticsDeleteMethod"),
        "merge_policy_id": spec.get("mergePolicyId"),
    }


def _jobs(created: PrivacyJobsCreated, jobs: Sequence[CreatedJob]) -> tuple[RemoteObject, ...]:
    return tuple(
        RemoteObject(
            remote_id=j.job_id,
            user_key=j.user_key or "",
            action=",".join(j.actions),
            request_id=created.request_id or "",
        )
        for j in jobs
    )


KIND = PrivacyJob()
