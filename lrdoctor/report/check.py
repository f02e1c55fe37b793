"""The text and JSON output of ``lrdoctor check`` (SARIF and GitHub annotations are shared
reporters in ``lrdoctor.report``).

Text is ruff's shape: per finding the line ``path:line:col: CODE severity [unit] message``
(the form editors and CI logs link to; the unit is the zoo env id, RLlib experiment or
the name the framework gives the run), then the offending source line with a caret under
the key, coloured on a terminal; ``concise`` is the first line alone. The path, the unit,
the message and the source line (a stranger's text) pass through ``display``, so a line
never holds a second one, and no escape sequence of theirs reaches the terminal. JSON
keeps every field of every finding, exactly. A file or unit that could not be read is
an LRD013 finding like any other; the summary also counts them, so a run that ignores
LRD013 still says what it did not read.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

from lrdoctor.check.lint import CheckResult, counts
from lrdoctor.model import Finding, Severity, finding_unit
from lrdoctor.report.indented import json_text
from lrdoctor.report.json import finding_entry, plain
from lrdoctor.version import VERSION
from lrdoctor.words import display

JSON_SCHEMA_VERSION = 2  # 2: files that were not read are LRD013 findings, no longer "problems"


def sort_key(finding: Finding) -> tuple:
    return (finding.file or "", finding.line or 0, finding.column or 0, finding.code)


def finding_line(finding: Finding) -> str:
    unit = finding_unit(finding)
    named = f"[{display(unit)}] " if unit else ""
    return (
        f"{display(finding.file or '')}:{finding.line}:{finding.column}: {finding.code} "
        f"{Severity(finding.severity).value} {named}{display(finding.message)}"
    )


def render_concise(result: CheckResult) -> str:
    lines = [finding_line(f) for f in sorted(result.findings, key=sort_key)]
    return "".join(line + "\n" for line in lines)


_TOKEN = re.compile(r"[^\s:=,\]\[{}]+")
COLOURS = {Severity.error: "bold red", Severity.warning: "bold yellow", Severity.info: "bold cyan"}


def source_excerpt(finding: Finding, line_text: str) -> list[str]:
    """The gutter, the source line and a caret under the key at the finding's column, as plain text."""
    column = max((finding.column or 1) - 1, 0)
    found = _TOKEN.match(line_text, column)
    width = max(len(display(found.group())) if found else 1, 1)
    number = str(finding.line)
    pad = " " * len(number)
    return [f"{pad} |", f"{number} | {display(line_text)}", f"{pad} | {' ' * len(display(line_text[:column]))}"
            + "^" * width]


def render_text(result: CheckResult, colour: bool = False) -> str:
    """Each finding's line, its source line and a caret, a blank line between findings."""
    blocks = []
    for finding in sorted(result.findings, key=sort_key):
        head = finding_line(finding)
        source = result.sources.get(finding.file or "", {}).get(finding.line or 0)
        excerpt = source_excerpt(finding, source) if source is not None else []
        if colour:
            style = COLOURS[Severity(finding.severity)]
            location, _, rest = head.partition(f": {finding.code} ")
            head = f"[bold]{escape(location)}[/]: [{style}]{finding.code}[/] {escape(rest)}"
            excerpt = [_coloured(line, style if number == 2 else "") for number, line in enumerate(excerpt)]
        blocks.append("\n".join([head, *excerpt]))
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    return _rich(text) if colour else text


def _coloured(line: str, style: str) -> str:
    """One excerpt line as rich markup: the gutter blue, the rest in ``style`` (the caret's line)."""
    gutter, bar, rest = line.partition("|")
    body = f"[{style}]{escape(rest)}[/]" if style else escape(rest)
    return f"[blue]{escape(gutter + bar)}[/]{body}"


def _rich(markup: str) -> str:
    """Markup rendered to a terminal's colours (rich, never hand-written escape codes)."""
    from rich.console import Console

    console = Console(force_terminal=True, highlight=False, soft_wrap=True, width=10_000)
    with console.capture() as captured:
        console.print(markup, end="")
    return captured.get()


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
    return json_text(document)


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


FORMATTERS = {"text": render_text, "concise": render_concise, "json": render_json, "sarif": _sarif,
              "github": _github}
