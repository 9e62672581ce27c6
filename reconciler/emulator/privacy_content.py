"""An access job's content: the ZIP that ``GET /jobs/{JOB_ID}/content`` answers.

Adobe's archive holds a folder per product with that product's data for the
data subject, usually JSON (api-notes.md, "Access results"). The emulator's is
synthetic and drawn from what was submitted only: for each product of the
request's ``include``, one JSON file naming the user key and the namespaces and
values submitted for that user. Entries carry fixed times and modes and the
files sorted keys, so one job gives the same bytes on every call.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

# api-notes.md, "Access results": "available for 60 days after the job completes".
CONTENT_SECONDS = 60 * 86_400.0
_ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)  # the earliest time a ZIP entry can carry


def content_available(completed_at: float, now: float) -> bool:
    """Whether a job completed at ``completed_at`` still has content at ``now``."""
    return now - completed_at <= CONTENT_SECONDS


def _document(product: str, user_key: str, user_ids: Sequence[Mapping[str, object]]) -> bytes:
    document = {
        "product": product,
        "userKey": user_key,
        "identities": [{"namespace": i["namespace"], "value": i["value"]} for i in user_ids],
    }
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build_archive(
    user_key: str,
    products: Sequence[str],
    user_ids: Sequence[Mapping[str, object]],
    completed_at: float,
) -> bytes:
    """The ZIP for one access job: ``<product>/`` with ``<product>/<product>.json`` each.

    Entries are dated ``completed_at`` (GMT), so the bytes depend on the job alone.
    """
    stamp = max(datetime.fromtimestamp(completed_at, UTC), _ZIP_EPOCH).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for product in products:
            folder = zipfile.ZipInfo(f"{product}/", stamp)
            folder.external_attr = (0o40755 << 16) | 0x10  # a directory, drwxr-xr-x
            archive.writestr(folder, b"")
            entry = zipfile.ZipInfo(f"{product}/{product}.json", stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o100644 << 16  # a file, rw-r--r--
            archive.writestr(entry, _document(product, user_key, user_ids))
    return buffer.getvalue()
