"""A local stand-in for Adobe's gateway: IMS, Data Hygiene and Privacy Service over HTTP.

Serves on one origin, so ``ADOBE_IMS_URL`` and ``ADOBE_PLATFORM_URL`` both
point at it:

- ``POST /ims/token/v3``: client-credentials tokens (``expires_in`` in seconds);
- ``/data/core/hygiene``: ``POST``/``GET /workorder``, ``GET``/``PUT /workorder/{id}``,
  ``GET /quota``, ``POST``/``GET /ttl``, ``GET``/``PUT``/``DELETE /ttl/{id}``;
- ``/data/core/privacy``: ``POST``/``GET /jobs``, ``GET /jobs/{id}``, ``POST /consent``;
- ``/_emulator/...``: the admin API for local tests (no auth; see ``admin.py``).

Every API call needs the gateway headers (bearer token from this IMS,
``x-api-key`` = its client id, ``x-gw-ims-org-id`` = its org, and
``x-sandbox-name`` for Data Hygiene). Organisations and sandboxes are isolated.
State lives in SQLite (a file, or ``:memory:``); statuses follow an emulator
clock that tests advance instead of sleeping; faults can be injected.

Demo credentials, used when no client is configured and the environment sets
none (each variable overrides its own value)::

    ADOBE_CLIENT_ID      reconciler-demo
    ADOBE_CLIENT_SECRET  demo-secret-not-for-production
    ADOBE_ORG_ID         DEMO0000000000000000000@AdobeOrg

Start it with ``reconciler emulator --port 8765`` or, in tests, with
:func:`reconciler.emulator.testing.running_emulator`.

Module map: ``config`` (settings, demo defaults), ``clock``, ``store``
(SQLite; ``ttl_store`` for dataset expirations), ``lifecycle`` (status progression),
``faults`` and ``middleware`` (fault injection, request log), ``gateway`` (header rules,
errors), ``ims``, ``hygiene``/``hygiene_rules``, ``ttl``/``ttl_rules``,
``privacy``/``privacy_rules``, ``admin``, ``app``, ``server``, ``testing``.
"""

from __future__ import annotations

from reconciler.emulator.config import (
    DEFAULT_DB,
    DEFAULT_PORT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORG_ID,
    ClientConfig,
    DatasetConfig,
    EmulatorConfig,
    load_config,
)
from reconciler.emulator.errors import EmulatorConfigError, EmulatorError
from reconciler.emulator.faults import FaultPlan, FaultSpec
from reconciler.emulator.server import EmulatorServer

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_PORT",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_ORG_ID",
    "ClientConfig",
    "DatasetConfig",
    "EmulatorConfig",
    "EmulatorConfigError",
    "EmulatorError",
    "EmulatorServer",
    "FaultPlan",
    "FaultSpec",
    "load_config",
]
