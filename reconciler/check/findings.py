"""Findings: what validation reports, each located in a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.model import Request


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one file. ``message`` never contains an identity value."""

    path: str
    line: int
    column: int
    rule: str
    message: str
    severity: Severity = field(default=Severity.ERROR, compare=False)


def finding_at(
    request: Request,
    path: tuple[str | int, ...],
    rule: str,
    message: str,
    severity: Severity = Severity.ERROR,
) -> Finding:
    """A finding at the value ``path`` points to in the request's file."""
    mark = request.where(*path)
    return Finding(request.path, mark.line, mark.column, rule, message, severity)


@dataclass(frozen=True)
class Report:
    """The outcome of validating a set of files."""

    findings: tuple[Finding, ...]
    files_checked: int

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    @property
    def files_with_findings(self) -> int:
        return len({f.path for f in self.findings})

    @property
    def success(self) -> bool:
        return self.errors == 0
