"""status: the progress callback moves as each answer arrives, not after all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.adobe import AdobeClient, AdobeConfig
from reconciler.reconcile.ledger import Ledger
from reconciler.reconcile.status import refresh
from tests.conftest import RECORD_DELETE, plan_and_apply, request_from


def _status_reads(adobe: Any) -> int:
    return sum(
        1
        for r in adobe.admin.requests()
        if r["method"] == "GET" and r["path"].startswith("/data/core/hygiene/workorder/")
    )


def test_each_answer_advances_the_progress_as_it_arrives(adobe: Any, tmp_path: Path) -> None:
    requests = [request_from(f"req-{n}", RECORD_DELETE) for n in range(4)]
    ledger = Ledger.load(tmp_path / "ledger")
    config = AdobeConfig.from_env(adobe.env(), sandbox_name="prod", max_concurrency=1)
    with AdobeClient(config) as client:
        assert plan_and_apply(adobe, client, requests, ledger).success
        before = _status_reads(adobe)
        seen: list[int] = []
        rows = refresh(
            client, ledger, list(ledger), on_done=lambda: seen.append(_status_reads(adobe))
        )
    # One call per entry, each made right after that entry's own read: with one read at
    # a time, the n-th call has seen exactly n reads (a bar moved only at the end would
    # have seen all four every time).
    assert [n - before for n in seen] == [1, 2, 3, 4]
    assert len(rows) == 4 and not any(r.error for r in rows)
