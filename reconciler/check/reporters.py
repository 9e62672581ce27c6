"""Render a validation report: text, json, github annotations, SARIF 2.1.0.

The JSON shape is a public contract (``"version": 1``)::

    {"version": 1, "valid": bool, "filesChecked": int, "errors": int, "warnings": int,
     "findings": [{"path", "line", "column", "severity", "rule", "message"}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable

from reconciler import __version__
from reconciler.check.findings import Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _summary(report: Report) -> str:
    if report.success:
        return f"{report.files_checked} file(s) valid"
    return (
        f"{report.errors} error(s) in {report.files_with_findings} of "
        f"{report.files_checked} file(s)"
    )


def text(report: Report) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.severity.value}: {f.message} ({f.rule})"
        for f in report.findings
    ]
    lines.append(_summary(report))
    return "\n".join(lines)


def as_json(report: Report) -> str:
    doc = {
        "version": 1,
        "valid": report.success,
        "filesChecked": report.files_checked,
        "errors": report.errors,
        "warnings": report.warnings,
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "severity": f.severity.value,
                "rule": f.rule,
                "message": f.message,
            }
            for f in report.findings
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(report: Report) -> str:
    """GitHub workflow commands: each finding becomes an annotation on its line."""
    lines = []
    for f in report.findings:
        props = ",".join(
            [
                f"file={_escape_property(f.path)}",
                f"line={f.line}",
                f"col={f.column}",
                f"title={_escape_property(f.rule)}",
            ]
        )
        lines.append(f"::{f.severity.value} {props}::{_escape_data(f.message)}")
    lines.append(_summary(report))
    return "\n".join(lines)


def sarif(report: Report) -> str:
    rules = sorted({f.rule for f in report.findings})
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reconciler",
                        "version": __version__,
                        "rules": [{"id": r} for r in rules],
                    }
                },
                "results": [
                    {
                        "ruleId": f.rule,
                        "ruleIndex": rules.index(f.rule),
                        "level": "error" if f.severity is Severity.ERROR else "warning",
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.path},
                                    "region": {"startLine": f.line, "startColumn": f.column},
                                }
                            }
                        ],
                    }
                    for f in report.findings
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


REPORTERS: dict[str, Callable[[Report], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}
