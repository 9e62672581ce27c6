"""Reading Adobe's side for the planner, and building the client from settings.

Work orders are read in bulk: one listing of every work order whose
description carries a tag (``search=[reconciler:``), 100 per page, then a
``GET`` only for ledger entries the listing did not show (for example a work
order whose description was edited by hand in Adobe's UI). Privacy jobs are
listed only when a ``PrivacyJob`` request is not in the ledger yet, to find
jobs a lost response or a lost ledger left behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from reconciler.adobe import AdobeClient, AdobeConfig, NotFoundError, WorkOrder
from reconciler.model import Kind, Request
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.planner import RemoteObject, RemoteState
from reconciler.reconcile.tagging import TAG_PREFIX, split_job_key, untag
from reconciler.settings import Settings

# Adobe lists privacy jobs at most 60 days back.
JOB_LOOKBACK_DAYS = 59


def adobe_config(settings: Settings, env: Mapping[str, str]) -> AdobeConfig:
    """The client's configuration: secrets from ``env``, the rest from the settings."""
    a, c = settings.adobe, settings.client
    overrides: dict[str, object] = {
        "ims_url": a.ims_url,
        "platform_url": a.platform_url,
        "max_concurrency": c.max_concurrency,
        "requests_per_second": c.requests_per_second,
        "timeout": c.timeout_seconds,
        "max_retries": c.max_retries,
    }
    if a.org_id:
        overrides["org_id"] = a.org_id
    if a.sandbox_name:
        overrides["sandbox_name"] = a.sandbox_name
    if a.scopes:
        overrides["scopes"] = ",".join(a.scopes)
    return AdobeConfig.from_env(env, **overrides)


def work_order_object(order: WorkOrder) -> RemoteObject:
    return RemoteObject(
        remote_id=order.workorder_id,
        display_name=order.display_name or "",
        description=order.description or "",
        created_at=order.created_at or "",
    )


def tagged_work_orders(client: AdobeClient, name: str | None = None) -> list[WorkOrder]:
    """Work orders carrying our tag (all of them, or one request's)."""
    search = f"{TAG_PREFIX}{name}]" if name else TAG_PREFIX
    orders = client.hygiene.iter_work_orders(search=search)
    return [o for o in orders if name is None or untag(o.description)[1] == name]


def tagged_jobs(
    client: AdobeClient, regulation: str, today: date, name: str | None = None
) -> dict[str, list[RemoteObject]]:
    """Privacy jobs whose user key carries a request name, by name."""
    found: dict[str, list[RemoteObject]] = defaultdict(list)
    start = today - timedelta(days=JOB_LOOKBACK_DAYS)
    for job in client.privacy.iter_privacy_jobs(regulation, from_date=start, to_date=today):
        parts = split_job_key(job.user_key)
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


def fetch_remote_state(
    client: AdobeClient, requests: Sequence[Request], ledger: Ledger, today: date
) -> RemoteState:
    """What the planner needs from Adobe, in as few calls as the APIs allow."""
    by_name: dict[str, list[RemoteObject]] = defaultdict(list)
    by_id: dict[str, RemoteObject] = {}
    wants_orders = any(r.kind is Kind.RECORD_DELETE for r in requests) or any(
        e.workorder_id for e in ledger
    )
    if wants_orders:
        for order in tagged_work_orders(client):
            obj = work_order_object(order)
            by_id[obj.remote_id] = obj
            _, name = untag(order.description)
            if name is not None:
                by_name[name].append(obj)
        for entry in ledger:
            if entry.workorder_id and entry.workorder_id not in by_id:
                try:
                    by_id[entry.workorder_id] = work_order_object(
                        client.hygiene.get_work_order(entry.workorder_id)
                    )
                except NotFoundError:
                    pass
    regulations = sorted(
        {
            str(r.spec["regulation"])
            for r in requests
            if r.kind is Kind.PRIVACY_JOB and ledger.get(r.name) is None
        }
    )
    for regulation in regulations:
        for name, jobs in tagged_jobs(client, regulation, today).items():
            by_name[name].extend(jobs)
    return RemoteState(
        by_name={k: tuple(v) for k, v in by_name.items()},
        by_id=by_id,
    )
