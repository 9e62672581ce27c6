"""Errors the emulator raises to its callers (the CLI and test helpers)."""

from __future__ import annotations

from reconciler.errors import ReconcilerError


class EmulatorError(ReconcilerError):
    """The emulator cannot start or was configured wrongly."""


class EmulatorConfigError(EmulatorError):
    """The emulator's configuration (flags or YAML file) is invalid."""
