"""Privacy Service handlers under ``/data/core/privacy``: jobs and consent.

``POST /jobs`` answers 202 with ``{requestId, totalRecords, jobs}``. The
spec's schema (PrivacyJobCreateList) names the array ``jobDetails`` but its
own example, the privacy-jobs guide and the live service say ``jobs``; the
emulator sends ``jobs`` (the schema allows extra properties, so the body still
validates). Items carry no ``userIDs``: the emulator never echoes identities.

One job per user, per action, per included product: the spec's ``include``
and ``action`` descriptions both say separate jobs are created for each.

``GET /jobs/{JOB_ID}/content`` answers a complete access job's ZIP (see
``privacy_content``) for 60 days after completion; otherwise 404.

The fault plan's lying totals and short pages act on ``GET /jobs``, reused ids on the
``jobId`` values ``POST /jobs`` answers, a partial answer on which users' jobs it lists
(``faults.py``). Search lag does not: it is modelled on the work-order and expiration
lists only.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.emulator.clock import privacy_date
from reconciler.emulator.faults import request_faults
from reconciler.emulator.gateway import Caller, authenticate, clip, error, json_body
from reconciler.emulator.job_store import JobRecord
from reconciler.emulator.lifecycle import job_state, product_responses
from reconciler.emulator.privacy_content import build_archive, content_available
from reconciler.emulator.privacy_rules import parse_consent, parse_job_query, parse_jobs
from reconciler.emulator.state import Emulator

_rng = random.SystemRandom()


def _request_id(now: float) -> str:
    # Adobe's shape: epoch milliseconds, four digits, "RX-", three digits (16203318964318668RX-054).
    return f"{int(now * 1000)}{_rng.randrange(10_000):04d}RX-{_rng.randrange(1000):03d}"


def _submitted_by(caller: Caller) -> str:
    return f"{caller.client_id}@techacct.adobe.com"


def _basic(emulator: Emulator, job: JobRecord, now: float) -> dict[str, Any]:
    state = job_state(job, now, emulator.config.job_steps)
    return {
        "jobId": job.job_id,
        "requestId": job.request_id,
        "userKey": job.user_key,
        "action": job.action,
        "status": state.status,
        "submittedBy": job.submitted_by,
        "createdDate": privacy_date(job.created_at),
        "lastModifiedDate": privacy_date(state.changed_at),
    }


def create_jobs(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=False)
    new = parse_jobs(json_body(request, body), caller.org_id)
    now = emulator.clock.now()
    request_id = new.request_id or _request_id(now)
    jobs: list[tuple[JobRecord, list[dict[str, object]]]] = []
    for user in new.users:
        for action in user.actions:
            for product in new.products:
                record = JobRecord(
                    job_id=str(uuid.uuid4()),
                    request_id=request_id,
                    org_id=caller.org_id,
                    user_key=user.key,
                    action=action,
                    product=product,
                    regulation=new.regulation,
                    submitted_by=_submitted_by(caller),
                    created_at=now,
                )
                jobs.append((record, [dict(u) for u in user.user_ids]))
    emulator.store.jobs.add(jobs, products=new.products)
    answered = [job.job_id for job, _ in jobs]
    faults = request_faults(request.scope)
    if faults.decision.reused_id:
        # The org's newest earlier jobs under the regulation, one for each new job (round
        # again when there are fewer): the new jobs are the newest, so skipped by offset.
        _, earlier = emulator.store.jobs.page(
            caller.org_id, new.regulation, 0.0, now, len(jobs), len(jobs)
        )
        if earlier:
            answered = [earlier[n % len(earlier)].job_id for n in range(len(jobs))]
            emulator.faults.happened(faults, "reused_id")
    shown = list(zip(answered, jobs, strict=True))
    if faults.decision.partial_answer and len(new.users) > 1:
        # Every job is stored; the answer names those of the first half of the users only.
        kept = {user.key for user in new.users[: len(new.users) // 2]}
        shown = [(job_id, job) for job_id, job in shown if job[0].user_key in kept]
        emulator.faults.happened(faults, "partial_answer")
    return JSONResponse(
        {
            "requestId": request_id,
            "totalRecords": len(shown),
            "jobs": [
                {
                    "jobId": job_id,
                    "customer": {"user": {"key": job.user_key, "action": [job.action]}},
                }
                for job_id, (job, _) in shown
            ],
        },
        202,
    )


def list_jobs(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=False)
    now = emulator.clock.now()
    query = parse_job_query(request.query_params, now)
    faults = request_faults(request.scope)
    size = faults.page_size(query.size)
    start = query.page * size
    if query.status is None:
        # Only the page is rendered: SQLite counts, orders (newest first) and slices.
        total, jobs = emulator.store.jobs.page(
            caller.org_id, query.regulation, query.from_ts, query.to_ts, start, size
        )
        page = [_basic(emulator, job, now) for job in jobs]
    else:
        # The status is computed from the clock: render every job in the window to filter.
        found = []
        for job in reversed(emulator.store.jobs.select(caller.org_id, query.regulation)):
            if not query.from_ts <= job.created_at <= query.to_ts:
                continue
            item = _basic(emulator, job, now)
            if item["status"] == query.status:
                found.append(item)
        total, page = len(found), found[start : start + size]
    total, page = emulator.faults.listing(faults, total, page, start, query.size)
    # totalRecords counts every match, so a client can page without guessing.
    return JSONResponse({"totalRecords": total, "jobDetails": page})


def get_job(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=False)
    job_id = request.path_params["job_id"]
    job = emulator.store.jobs.get(job_id)
    if job is None or job.org_id != caller.org_id:
        raise error(404, "404001", f"Job {clip(job_id)} not found.")
    now = emulator.clock.now()
    state = job_state(job, now, emulator.config.job_steps)
    item = _basic(emulator, job, now)
    item["regulation"] = job.regulation
    item["productResponses"] = product_responses(job, state)
    if job.action == "access" and state.status == "complete":
        item["downloadUrl"] = str(request.url_for("privacy_job", job_id=job_id)) + "/content"
    return JSONResponse(item)


def get_job_content(emulator: Emulator, request: Request, body: bytes) -> Response:
    # The spec marks Accept as required and "must be set to application/json", for an
    # answer that is a ZIP: the emulator does not check it.
    caller = authenticate(emulator, request, sandbox_required=False)
    job_id = request.path_params["job_id"]
    job = emulator.store.jobs.get(job_id)
    submission = emulator.store.jobs.submission(job_id)
    if job is None or submission is None or job.org_id != caller.org_id:
        raise error(404, "404001", f"Job {clip(job_id)} not found.")
    now = emulator.clock.now()
    state = job_state(job, now, emulator.config.job_steps)
    # The spec documents no answer for a job without content (a delete job, one not complete
    # yet, or one past the 60 days): 404 in the shape of the unknown job's.
    if job.action != "access" or state.status != "complete":
        raise error(404, "404001", f"Job {clip(job_id)} has no access content.")
    if not content_available(state.changed_at, now):
        raise error(404, "404001", f"The content of job {clip(job_id)} is no longer available.")
    archive = build_archive(
        job.user_key,
        submission.products or (job.product,),  # a job stored before products were
        submission.user_ids,
        state.changed_at,
    )
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{job.job_id}.zip"'},
    )


def create_consent(emulator: Emulator, request: Request, body: bytes) -> Response:
    caller = authenticate(emulator, request, sandbox_required=False)
    opt_out, entities, values = parse_consent(json_body(request, body))
    emulator.store.jobs.add_consent(caller.org_id, emulator.clock.now(), opt_out, entities, values)
    # 202 with no payload: there is no consent id to look up later.
    return Response(status_code=202)
