"""The text and JSON output of ``lrdoctor check`` (SARIF and GitHub annotations are shared
reporters in ``lrdoctor.report``).

Text is one line per finding, ``path:line:col: CODE severity message``, the form
editors and CI logs link to; the path and the message (which quotes the config's
names and values) pass through ``display``, so a line never holds a second one. JSON
keeps every field of every finding, exactly. A file or unit that could not be read is
an LRD013 finding like any other; the summary also counts them, so a run that ignores
LRD013 still says what it did not read.
"""

from __future__ import annotations

import json
from typing import Any

from lrdoctor.check.lint import CheckResult, counts
from lrdoctor.model import Finding, Severity
from lrdoctor.report.json import finding_entry, plain
from lrdoctor.version import VERSION
from lrdoctor.words import display

JSON_SCHEMA_VERSION = 2  # 2: files that were not read are LRD013 findings, no longer "problems"


def sort_key(finding: Finding) -> tuple:
    return (finding.file or "", finding.line or 0, finding.column or 0, finding.code)


def finding_line(finding: Finding) -> str:
    return (
        f"{display(finding.file or '')}:{finding.line}:{finding.column}: {finding.code} "
        f"{Severity(finding.severity).value} {display(finding.message)}"
    )


def render_text(result: CheckResult) -> str:
    lines = [finding_line(f) for f in sorted(result.findings, key=sort_key)]
    return "".join(line + "\n" for line in lines)


def summary_line(result: CheckResult) -> str:
    """The one line for stderr: what was checked and what was found."""
    tally = counts(result.findings)
    found = ", ".join(f"{n} {level}{'s' if n != 1 else ''}" for level, n in tally.items() if n) or "no findings"
    extra = f", {result.unread} not read" if result.unread else ""
    return (
        f"lrdoctor check: {result.files} file{'s' if result.files != 1 else ''}, "
        f"{result.units} unit{'s' if result.units != 1 else ''}: {found}{extra}"
    )


def render_json(result: CheckResult) -> str:
    document = {
        "version": JSON_SCHEMA_VERSION,
        "tool": {"name": "lrdoctor", "version": VERSION},
        "findings": [json_finding(f) for f in sorted(result.findings, key=sort_key)],
        "summary": {
            "files": result.files, "units": result.units, "not_read": result.unread, "findings": counts(result.findings)
        },
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def json_finding(finding: Finding) -> dict[str, Any]:
    entry = finding_entry(finding)
    entry.pop("step", None)
    entry.pop("caused_by", None)
    return {
        **entry,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "unit": plain(finding.evidence.get("unit")),
    }


def _sarif(result: CheckResult) -> str:
    from lrdoctor.report import sarif

    return sarif.render(sorted(result.findings, key=sort_key))


def _github(result: CheckResult) -> str:
    from lrdoctor.report import github

    return github.render(sorted(result.findings, key=sort_key))


FORMATTERS = {"text": render_text, "json": render_json, "sarif": _sarif, "github": _github}
