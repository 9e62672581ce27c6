"""``reconciler emulator``: serve the local Adobe API emulator until stopped."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click

from reconciler.emulator.config import (
    DEFAULT_DB,
    DEFAULT_PORT,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_ORG_ID,
    EmulatorConfig,
    load_config,
)
from reconciler.emulator.errors import EmulatorConfigError
from reconciler.emulator.faults import FaultPlan
from reconciler.emulator.server import EmulatorServer


def _faults(base: FaultPlan, flags: dict[str, Any]) -> FaultPlan:
    """Apply the fault flags given on the command line over the config file's plan."""
    shared = {k: v for k, v in flags.items() if v is not None and k not in ("seed", "token_down")}
    data: dict[str, Any] = base.to_dict()
    for name in ("token", "read", "write"):
        spec = {**data[name], **shared}
        if name != "write":
            spec["drop_after_commit_rate"] = data[name]["drop_after_commit_rate"]
        data[name] = spec
    if flags.get("seed") is not None:
        data["seed"] = flags["seed"]
    if flags.get("token_down"):
        data["token_down"] = True
    try:
        return FaultPlan.from_dict(data)
    except ValueError as e:
        raise EmulatorConfigError(str(e)) from e


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@click.command(
    "emulator",
    epilog=f"""\b
Example:
  reconciler emulator --port {DEFAULT_PORT} --db .reconciler-emulator.db
  export ADOBE_IMS_URL=http://127.0.0.1:{DEFAULT_PORT}
  export ADOBE_PLATFORM_URL=http://127.0.0.1:{DEFAULT_PORT}

\b
Credentials: with no --config clients, the emulator accepts one client,
taken from ADOBE_CLIENT_ID, ADOBE_CLIENT_SECRET and ADOBE_ORG_ID, each
defaulting to the demo's:
  ADOBE_CLIENT_ID      {DEMO_CLIENT_ID}
  ADOBE_CLIENT_SECRET  {DEMO_CLIENT_SECRET}
  ADOBE_ORG_ID         {DEMO_ORG_ID}

\b
Admin API (no auth, for local tests only): /_emulator/faults, /counters,
/requests, /workorders, /jobs, /consents, /clock, /tokens/expire, /reset.""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed at start).",
)
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    help="SQLite file holding the emulator's state, or :memory:.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="YAML file: clients, datasets, quotas, speed, faults.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Emulator seconds per real second (statuses progress this much faster).",
)
@click.option("--latency-ms", type=click.FloatRange(min=0), help="Added latency per request.")
@click.option("--error-rate", type=click.FloatRange(0, 1), help="Fraction answered 500/502/503.")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), help="Fraction answered 429.")
@click.option("--retry-after", type=click.IntRange(min=0), help="Retry-After seconds on a 429.")
@click.option(
    "--drop-rate",
    "drop_after_commit_rate",
    type=click.FloatRange(0, 1),
    help="Fraction of writes whose response is dropped after the write committed.",
)
@click.option("--token-down", is_flag=True, help="IMS answers 503.")
@click.option("--seed", type=int, help="Seed for fault decisions (reproducible campaigns).")
def command(
    host: str,
    port: int,
    db: str,
    config_path: Path | None,
    speed: float | None,
    **fault_flags: Any,
) -> int:
    """Serve IMS, Data Hygiene and Privacy Service locally until stopped (^C)."""
    config = load_config(config_path) if config_path else EmulatorConfig()
    if speed is not None:
        config = replace(config, speed=speed)
    config = replace(config, faults=_faults(config.faults, fault_flags))
    server = EmulatorServer(config, db=db, host=host, port=port)
    server.start()
    try:
        _stop_on_sigterm()
        click.echo(f"Adobe API emulator listening on {server.url} (database {db})")
        click.echo(f"  ADOBE_IMS_URL={server.url} ADOBE_PLATFORM_URL={server.url}")
        click.echo(
            f"  client {server.config.clients[0].client_id}, org {server.config.clients[0].org_id}"
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
