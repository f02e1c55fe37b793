"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding,
shown as annotations on the pull request's files.

``render(findings)`` works for config findings (file, line, col) and for run
findings (no file: the run is named in the title). Every value is escaped by
``words.workflow_data`` or ``workflow_property``: what a file name or a config brings
stays inside its own annotation, and no line it holds can start a workflow command.
"""

from __future__ import annotations

from typing import Sequence

from lrdoctor.model import Finding, Severity, finding_unit
from lrdoctor.words import workflow_data, workflow_property

COMMANDS = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}


def render(findings: Sequence[Finding]) -> str:
    return "".join(annotation(finding) + "\n" for finding in findings)


def annotation(finding: Finding) -> str:
    properties = []
    if finding.file is not None:
        properties.append(f"file={workflow_property(finding.file)}")
        if finding.line:
            properties.append(f"line={finding.line}")
        if finding.column:
            properties.append(f"col={finding.column}")
    title = f"{finding.code} {finding.rule}"
    if finding.file is None and finding.run is not None:
        title += f" ({finding.run})"
    elif finding_unit(finding):  # a zoo file's 27 look-alike annotations, each with its env id
        title += f" [{finding_unit(finding)}]"
    properties.append(f"title={workflow_property(title)}")
    return f"::{COMMANDS[Severity(finding.severity)]} {','.join(properties)}::{workflow_data(finding.message)}"
