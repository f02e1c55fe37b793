"""SARIF 2.1.0: findings for GitHub code scanning and other static-analysis viewers.

``render(findings)`` takes findings of configs (file, line, column);
``render_located`` also takes findings of runs, each with the file it points at (the
config line that declared the LR, or the run's log file) and its line, else line 1, so
viewers that need a region still accept it. The rule metadata (name, description, default
level, help) comes from the rule registry, so it matches ``lrdoctor rules``.
Levels: error -> error, warning -> warning, info -> note. A result's message is
plain text a viewer shows as it is: it passes through ``display`` (no control, bidi or
zero-width character); locations are percent-encoded URIs; the rest stays exact JSON.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, Sequence
from urllib.parse import quote

from lrdoctor import rules
from lrdoctor.model import Finding, Severity, finding_unit
from lrdoctor.report.indented import json_text
from lrdoctor.report.json import plain
from lrdoctor.version import VERSION
from lrdoctor.words import display

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/lrdoctor/lrdoctor"
LEVELS = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}


def render(findings: Sequence[Finding]) -> str:
    """Findings that carry their own location: a config finding's file and line."""
    return render_located([(finding, None) for finding in findings])


def render_located(located: Sequence[tuple[Finding, str | None] | tuple[Finding, str | None, int | None]]) -> str:
    """Findings each with the file its run's finding points at (None when it has no run), and its line."""
    modules = _rule_modules()
    index = {module.CODE: i for i, module in enumerate(modules)}
    document = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lrdoctor",
                        "version": VERSION,
                        "semanticVersion": VERSION,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_entry(module) for module in modules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [result_entry(f, index, *where) for f, *where in located],
            }
        ],
    }
    return json_text(document)


def _rule_modules() -> list[ModuleType]:
    return [rules.RULES[code] for code in sorted(rules.RULES)]


def rule_entry(module: ModuleType) -> dict[str, Any]:
    doc = (module.__doc__ or "").strip()
    title = doc.splitlines()[0] if doc else module.SLUG
    short = title.split(":", 1)[1].strip() if ":" in title else title
    short = short[:1].upper() + short[1:]
    return {
        "id": module.CODE,
        "name": module.SLUG,
        "shortDescription": {"text": short},
        "fullDescription": {"text": doc or short},
        "help": {"text": doc or short},
        "defaultConfiguration": {"level": LEVELS[Severity(module.SEVERITY)]},
        "properties": {"tags": ["reinforcement-learning", module.SCOPE]},
    }


def result_entry(
    finding: Finding, rule_index: dict[str, int], run_path: str | None = None, line: int | None = None
) -> dict[str, Any]:
    text = finding.message
    unit = finding_unit(finding) if finding.file is not None else None
    if unit:
        text = f"[{unit}] {text}"
    if finding.fix and finding.fix.get("summary") and "Fix:" not in text:
        text = f"{text} Fix: {finding.fix['summary']}"
    entry: dict[str, Any] = {
        "ruleId": finding.code,
        "level": LEVELS[Severity(finding.severity)],
        "message": {"text": display(text)},
        "locations": [location(finding, run_path, line)],
        "properties": {"rule": finding.rule, "evidence": plain(finding.evidence)},
    }
    if unit:
        entry["locations"][0]["logicalLocations"] = [{"name": display(unit), "kind": "object"}]
    if finding.code in rule_index:
        entry["ruleIndex"] = rule_index[finding.code]
    if finding.fix:
        entry["properties"]["fix"] = plain(finding.fix)
    if finding.step is not None:
        entry["properties"]["step"] = finding.step
    if finding.run is not None:
        entry["properties"]["run"] = finding.run
    return entry


def location(finding: Finding, run_path: str | None = None, line: int | None = None) -> dict[str, Any]:
    # a run's name is relative to the argument it was found under: only its path resolves
    path = finding.file if finding.file is not None else (run_path or finding.run or ".")
    region: dict[str, int] = {"startLine": finding.line or line or 1}
    if finding.line and finding.column:
        region["startColumn"] = finding.column
    return {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)}, "region": region}}


def artifact_uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it against the repository root);
    a URL (a run in object storage) keeps its scheme."""
    scheme, sep, rest = path.partition("://")
    if sep and scheme.isalnum():
        return f"{scheme}://{quote(rest)}"
    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix)
    return quote(posix.removeprefix("./"))


def run_location(path: str | os.PathLike, cwd: Path) -> str:
    """A run's path relative to ``cwd`` when it is under it (so code scanning resolves it
    against the checkout), else absolute; a URL (a run in object storage) as it is."""
    if not isinstance(path, os.PathLike) and "://" in str(path):
        return str(path)
    absolute = Path(os.path.abspath(os.path.join(cwd, path)))
    try:
        return absolute.relative_to(cwd).as_posix()
    except ValueError:
        return absolute.as_posix()
