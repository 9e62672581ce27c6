"""The one base for every failure a user can cause or fix.

Exception tree::

    ReconcilerError                 expected failure: one-line message, exit 1
    ├── UsageError                  bad flags or arguments: exit 2
    ├── SettingsError               reconciler.yaml or the environment is wrong
    ├── LoadError                   a request file cannot be read as YAML
    ├── GitError                    a git operation failed (bad ref, not a repository)
    └── (subsystems add their own subclasses: the Adobe client, the ledger, the planner)

Anything else that escapes a command is a bug: the CLI prints a traceback
and exits 3 (see ``reconciler.cli``).
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """An expected failure with a message fit for the user (never a secret or identity)."""

    exit_code = 1


class UsageError(ReconcilerError):
    """The command line itself is wrong."""

    exit_code = 2


class SettingsError(ReconcilerError):
    """Settings (reconciler.yaml, environment variables) are missing or invalid."""


class LoadError(ReconcilerError):
    """A file could not be loaded."""


class GitError(ReconcilerError):
    """A git operation failed."""
