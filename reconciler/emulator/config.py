"""The emulator's configuration: clients, datasets, quotas, clock, faults.

With no configuration the emulator accepts exactly one client, described by
the same environment variables the tool's Adobe client reads, so one
environment configures both sides:

====================  ====================================  ==================
variable              demo default                           meaning
====================  ====================================  ==================
ADOBE_CLIENT_ID       ``reconciler-demo``                    client id = API key
ADOBE_CLIENT_SECRET   ``demo-secret-not-for-production``     client secret
ADOBE_ORG_ID          ``DEMO0000000000000000000@AdobeOrg``   IMS organisation
====================  ====================================  ==================

A YAML file replaces the defaults it names::

    clients:
      - {client_id: a, client_secret: s, org_id: ORG1@AdobeOrg, name: Team A,
         sandboxes: [prod, dev]}   # Data Hygiene calls naming another sandbox: 403
    datasets:
      - {id: c48b51623ec641a2949d339bad69cb15, name: Consumers, namespace: email}
    quotas: {daily_identities: 1000000, monthly_identities: 2000000, dataset_expirations: 75}
    speed: 60              # emulator seconds per real second
    token_ttl_seconds: 86399
    workorder_steps: {validated: 300, submitted: 900, ingested: 3600, completed: 14400}
    job_steps: {processing: 600, complete: 3600}
    expiration_steps: {completed: 86400}   # after the expiry (executing from the expiry on)
    faults: {seed: 1, write: {error_rate: 0.1}}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator.errors import EmulatorConfigError
from reconciler.emulator.faults import FaultPlan

DEMO_CLIENT_ID = "reconciler-demo"
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"
DEMO_ORG_ID = "DEMO0000000000000000000@AdobeOrg"
DEFAULT_PORT = 8765
DEFAULT_DB = ".reconciler-emulator.db"

# Adobe's documented limits (api-notes.md): per work order, per privacy request, per org.
MAX_IDENTITIES_PER_WORKORDER = 100_000
MAX_USERS_PER_JOB = 1_000
MAX_USER_IDS_PER_USER = 9


@dataclass(frozen=True)
class ClientConfig:
    """One OAuth server-to-server credential and the organisation it belongs to."""

    client_id: str
    client_secret: str
    org_id: str
    name: str = ""
    # The organisation's sandboxes; a call naming another one is refused.
    sandboxes: tuple[str, ...] = ("prod", "dev")


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset the emulator knows, with the namespace of its primary identity."""

    id: str
    name: str
    namespace: str


@dataclass(frozen=True)
class QuotaConfig:
    daily_identities: int = 1_000_000
    monthly_identities: int = 2_000_000
    dataset_expirations: int = 75


@dataclass(frozen=True)
class WorkorderSteps:
    """Emulator seconds after creation at which a work order reaches each status."""

    validated: float = 300.0
    submitted: float = 900.0
    ingested: float = 3600.0
    completed: float = 14400.0


@dataclass(frozen=True)
class JobSteps:
    """Emulator seconds after creation at which a privacy job reaches each status."""

    processing: float = 600.0
    complete: float = 3600.0


@dataclass(frozen=True)
class ExpirationSteps:
    """Emulator seconds after its expiry at which a dataset expiration is ``completed`` (it is
    ``executing`` from the expiry on)."""

    completed: float = 86400.0


# The seed's dataset (data-hygiene-workorder-endpoint.nl.md), the spec's work-order example
# ones, and the dataset of the spec's POST /ttl example.
DEFAULT_DATASETS: tuple[DatasetConfig, ...] = (
    DatasetConfig("c48b51623ec641a2949d339bad69cb15", "Example_Consumer_Dataset", "email"),
    DatasetConfig("7eab61f3e5c34810a49a1ab3", "Acme_Loyalty_2023", "email"),
    DatasetConfig("5c7a6b8f3b9b455eac9321cd", "Acme_Loyalty_Events", "ECID"),
    DatasetConfig("3e9f815ae1194c65b2a4c5ea", "Acme_Customer_Data", "email"),
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs at start; immutable."""

    clients: tuple[ClientConfig, ...] = ()
    datasets: tuple[DatasetConfig, ...] = DEFAULT_DATASETS
    quotas: QuotaConfig = field(default_factory=QuotaConfig)
    speed: float = 1.0
    token_ttl_seconds: int = 86399
    workorder_steps: WorkorderSteps = field(default_factory=WorkorderSteps)
    job_steps: JobSteps = field(default_factory=JobSteps)
    expiration_steps: ExpirationSteps = field(default_factory=ExpirationSteps)
    faults: FaultPlan = field(default_factory=FaultPlan)
    admin: bool = True

    def with_default_client(self, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """Fill in the environment's (or the demo's) client when none is configured."""
        if self.clients:
            return self
        return replace(self, clients=(client_from_env(environ),))

    def dataset(self, dataset_id: str) -> DatasetConfig | None:
        for dataset in self.datasets:
            if dataset.id == dataset_id:
                return dataset
        return None

    def client(self, client_id: str) -> ClientConfig | None:
        for client in self.clients:
            if client.client_id == client_id:
                return client
        return None


def client_from_env(environ: Mapping[str, str] | None = None) -> ClientConfig:
    """The client described by ADOBE_CLIENT_ID/SECRET/ORG_ID, each defaulting to the demo's."""
    env = os.environ if environ is None else environ
    return ClientConfig(
        client_id=env.get("ADOBE_CLIENT_ID") or DEMO_CLIENT_ID,
        client_secret=env.get("ADOBE_CLIENT_SECRET") or DEMO_CLIENT_SECRET,
        org_id=env.get("ADOBE_ORG_ID") or DEMO_ORG_ID,
        name="",
    )


def load_config(path: Path) -> EmulatorConfig:
    """Read a YAML configuration file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EmulatorConfigError(f"cannot read emulator config {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise EmulatorConfigError(f"emulator config {path} is not valid YAML") from e
    try:
        return parse_config(raw or {})
    except (TypeError, ValueError, KeyError) as e:
        raise EmulatorConfigError(f"emulator config {path}: {e}") from e


def parse_config(raw: Mapping[str, Any]) -> EmulatorConfig:
    """Build a config from plain data (the YAML file's content)."""
    if not isinstance(raw, Mapping):
        raise ValueError("the top level must be a mapping")
    allowed = {
        "clients",
        "datasets",
        "quotas",
        "speed",
        "token_ttl_seconds",
        "workorder_steps",
        "job_steps",
        "expiration_steps",
        "faults",
        "admin",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    config = EmulatorConfig()
    if "clients" in raw:
        clients = tuple(
            ClientConfig(
                client_id=str(c["client_id"]),
                client_secret=str(c["client_secret"]),
                org_id=str(c["org_id"]),
                name=str(c.get("name", "")),
                sandboxes=tuple(str(x) for x in c.get("sandboxes", ("prod", "dev"))),
            )
            for c in raw["clients"]
        )
        if len({c.client_id for c in clients}) != len(clients):
            raise ValueError("client ids must be unique")
        config = replace(config, clients=clients)
    if "datasets" in raw:
        datasets = tuple(
            DatasetConfig(str(d["id"]), str(d.get("name", d["id"])), str(d["namespace"]))
            for d in raw["datasets"]
        )
        config = replace(config, datasets=datasets)
    if "quotas" in raw:
        config = replace(
            config, quotas=QuotaConfig(**{k: int(v) for k, v in raw["quotas"].items()})
        )
    if "speed" in raw:
        speed = float(raw["speed"])
        if speed <= 0:
            raise ValueError("speed must be positive")
        config = replace(config, speed=speed)
    if "token_ttl_seconds" in raw:
        config = replace(config, token_ttl_seconds=int(raw["token_ttl_seconds"]))
    if "workorder_steps" in raw:
        steps = {k: float(v) for k, v in raw["workorder_steps"].items()}
        config = replace(config, workorder_steps=WorkorderSteps(**steps))
    if "job_steps" in raw:
        job_steps = {k: float(v) for k, v in raw["job_steps"].items()}
        config = replace(config, job_steps=JobSteps(**job_steps))
    if "expiration_steps" in raw:
        expiration_steps = {k: float(v) for k, v in raw["expiration_steps"].items()}
        config = replace(config, expiration_steps=ExpirationSteps(**expiration_steps))
    if "faults" in raw:
        config = replace(config, faults=FaultPlan.from_dict(raw["faults"]))
    if "admin" in raw:
        config = replace(config, admin=bool(raw["admin"]))
    return config
