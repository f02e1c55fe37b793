"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding,
shown as annotations on the pull request's files.

``render(findings)`` works for config findings (file, line, col) and for run
findings (no file: the run is named in the title). Values are escaped as the
Actions toolkit does, so a message with a colon, comma or newline stays one annotation.
"""

from __future__ import annotations

from typing import Sequence

from lrdoctor.model import Finding, Severity

COMMANDS = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}


def render(findings: Sequence[Finding]) -> str:
    return "".join(annotation(finding) + "\n" for finding in findings)


def annotation(finding: Finding) -> str:
    properties = []
    if finding.file is not None:
        properties.append(f"file={_property(finding.file)}")
        if finding.line:
            properties.append(f"line={finding.line}")
        if finding.column:
            properties.append(f"col={finding.column}")
    title = f"{finding.code} {finding.rule}"
    if finding.file is None and finding.run is not None:
        title += f" ({finding.run})"
    properties.append(f"title={_property(title)}")
    return f"::{COMMANDS[Severity(finding.severity)]} {','.join(properties)}::{_data(finding.message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
