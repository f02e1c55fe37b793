"""Reporters: one small interface, one file per format, chosen by name from ``FORMATTERS``.

A formatter is a pure function ``render(report: Report) -> str``. The ``Report``
holds what was analysed (run results, with the limits the rules judged each by;
read problems) and what the reporters need to show it (links to figures); nothing here reads disk or prints.
The helpers below are the facts every format shows the same way: a run's peak KL,
its findings ordered cause first, its prescription.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from lrdoctor.insight.sweep import Insight
from lrdoctor.model import VERDICTS, Finding, Points, ReadNote, RunResult, Severity
from lrdoctor.schedule import Schedule
from lrdoctor.words import format_lr, format_steps, number

_MAX_LISTED = 6
_MAX_WORD = 32


@dataclass(frozen=True)
class Report:
    """Everything one ``analyze`` produced, ready to format.

    ``figures`` maps a run's path to the link of its figure, already relative
    to where the report is written (paths, not names: two arguments can each
    hold a run called "PPO_1"); ``sweep_figure`` is the link of the overview.
    """

    results: tuple[RunResult, ...]
    problems: tuple[ReadNote, ...] = ()
    figures: Mapping[str, str] = field(default_factory=dict)
    sweep_figure: str | None = None
    verbose: bool = False
    insight: Insight | None = None  # what separates the sick runs of a sweep (insight.sweep); None: no sweep
    insight_figure: str | None = None
    # a run's path -> the log files it was read from (``Ingested.log_files``), for SARIF locations
    log_files: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def figure_of(self, result: RunResult) -> str | None:
        return self.figures.get(str(result.run.path))

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.results for f in result.findings]

    @property
    def counts(self) -> dict[str, int]:
        """Number of findings per severity, every severity present (0 when none)."""
        counts = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
        for finding in self.findings:
            counts[Severity(finding.severity).value] += 1
        return counts


Formatter = Callable[[Report], str]


# --- facts shown by every format -------------------------------------------------


@dataclass(frozen=True)
class Peak:
    value: float
    step: int


def peak(points: Points | None) -> Peak | None:
    """The largest finite value of a metric (its ``Metrics.points``) and its step; None when it has none."""
    if points is None or not len(points[0]):
        return None
    steps, values = points
    finite = np.isfinite(values)
    if not finite.any():
        return None
    position = int(np.argmax(np.where(finite, values, -np.inf)))
    return Peak(float(values[position]), int(steps[position]))


def worst_first(results: Iterable[RunResult]) -> tuple[RunResult, ...]:
    """Runs in the order every output lists them: by verdict, worst first (collapsed,
    unstable, at risk, ok, unchecked, as ``VERDICTS``), then by their findings (errors,
    then warnings), then by name; the run to look at is always on top, in the table, the
    sections, the JSON and the sweep figure."""

    def order(result: RunResult) -> tuple:
        severities = [Severity(f.severity).rank for f in checked_findings(result)]
        return (VERDICTS.index(result.verdict), -max(severities, default=-1), -len(severities), result.run.name)

    return tuple(sorted(results, key=order))


def cause_first(findings: Sequence[Finding]) -> list[tuple[int, Finding]]:
    """Findings as (depth, finding), each cause followed by the findings it explains.

    ``caused_by`` names a finding of the same run by code or slug. A name that
    matches nothing, or a loop, leaves the finding at the top level rather than
    hiding it. Causes come by severity, then by how much they explain, then by step.
    """
    by_name: dict[str, int] = {}
    for index, finding in enumerate(findings):
        by_name.setdefault(finding.code, index)
        by_name.setdefault(finding.rule, index)
    parent = {
        i: by_name[f.caused_by]
        for i, f in enumerate(findings)
        if f.caused_by in by_name and by_name[f.caused_by] != i
    }
    for start in list(parent):
        seen, node = {start}, parent.get(start)
        while node is not None and node not in seen:
            seen.add(node)
            node = parent.get(node)
        if node is not None:  # a loop: cut it where it started
            parent.pop(start, None)
    children: dict[int | None, list[int]] = {}
    for index in range(len(findings)):
        children.setdefault(parent.get(index), []).append(index)

    def explained(index: int) -> int:
        return sum(1 + explained(child) for child in children.get(index, []))

    def order(index: int) -> tuple:
        finding = findings[index]
        step = finding.step if finding.step is not None else math.inf
        return (-Severity(finding.severity).rank, -explained(index), step, finding.code)

    ordered: list[tuple[int, Finding]] = []

    def visit(index: int, depth: int) -> None:
        ordered.append((depth, findings[index]))
        for child in sorted(children.get(index, []), key=order):
            visit(child, depth + 1)

    for root in sorted(children.get(None, []), key=order):
        visit(root, 0)
    return ordered


def checked_findings(result: RunResult) -> list[Finding]:
    """The findings about the run itself: everything except "could not check" (LRD010)."""
    return [f for f in result.findings if f.code != "LRD010"]


def unchecked_findings(result: RunResult) -> list[Finding]:
    return [f for f in result.findings if f.code == "LRD010"]


def headline(result: RunResult) -> Finding | None:
    """The finding a person should read first: the top cause, if any."""
    ordered = cause_first(checked_findings(result))
    return ordered[0][1] if ordered else None


def fixes(result: RunResult) -> list[Mapping[str, Any]]:
    """The distinct prescriptions of a run, cause first (LR rules all carry the same one)."""
    distinct: list[Mapping[str, Any]] = []
    for _, finding in cause_first(checked_findings(result)):
        if finding.fix and all(finding.fix != known for known in distinct):
            distinct.append(finding.fix)
    return distinct


def fix_phases(fix: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The schedule phases of a prescription as plain dicts (Phase fields)."""
    schedule = fix.get("schedule")
    if isinstance(schedule, Schedule):
        return [phase.to_dict() for phase in schedule.phases]
    if isinstance(schedule, Mapping):
        return [dict(phase) for phase in schedule.get("phases", ())]
    return []


def fix_code(fix: Mapping[str, Any]) -> dict[str, str]:
    """The one-line code snippets of a prescription, by target (sb3, torch)."""
    code = fix.get("code")
    if isinstance(code, Mapping):
        return {str(k): str(v) for k, v in code.items()}
    if isinstance(code, str):
        return {"code": code}
    return {}


def lr_shape_text(result: RunResult) -> str:
    """"constant 3e-04", "warmup-decay, peak 3e-04", "not logged" (never "constant")."""
    shape = result.run.lr_shape
    if shape.kind == "not-logged":
        return "not logged"
    if shape.peak_lr is None or not math.isfinite(shape.peak_lr) or shape.peak_lr <= 0:
        return shape.kind
    if shape.kind == "constant":
        return f"constant {format_lr(shape.peak_lr)}"
    return f"{shape.kind}, peak {format_lr(shape.peak_lr)}"


def evidence_items(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The evidence a person reads: numbers, yes/no and short words, formatted.

    Long strings (sources, restated causes) are left to the JSON report, which
    keeps every key; here they would bury the numbers.
    """
    shown = []
    for key, value in evidence.items():
        if value is None or (isinstance(value, str) and len(value) > _MAX_WORD):
            continue
        if isinstance(value, (Mapping, list, tuple)) and not _all_numbers(value):
            continue
        shown.append((str(key), evidence_text(str(key), value)))
    return shown


def evidence_text(key: str, value: Any) -> str:
    """One evidence value as people read it: steps in K/M, numbers to 3 digits (``number``), NaN as nan."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        figure = float(value)
        if _is_step(key) and math.isfinite(figure) and figure == int(figure):
            return format_steps(int(figure))
        if "lr" in key.split("_") and math.isfinite(figure) and figure > 0:
            return format_lr(figure)
        return number(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={evidence_text(str(k), v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        shown = ", ".join(evidence_text(key, v) for v in value[:_MAX_LISTED])
        return shown + (f", … ({len(value)} in all)" if len(value) > _MAX_LISTED else "")
    return str(value)


def _is_step(key: str) -> bool:
    return "step" in key or key.endswith(("_from", "_until", "_at"))


def _all_numbers(value: Any) -> bool:
    items = value.values() if isinstance(value, Mapping) else value
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in items)


def kl_band_text(band: Sequence[float]) -> str:
    low, high = band
    return f"< {high:g}" if low == 0 else f"{low:g}–{high:g}"


# --- figure files ------------------------------------------------------------------

SWEEP_FIGURE = "sweep"
INSIGHT_FIGURE = "sweep-insight"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 120


def figure_file_names(run_names: Iterable[str], extension: str) -> list[str]:
    """A file name per run, in order, safe on every filesystem and unique (case-insensitively).

    Path separators become ``__`` so "sweep/seed_1" reads as "sweep__seed_1.png";
    the sweep overview's own name is never handed to a run.
    """
    taken = {SWEEP_FIGURE.lower(), INSIGHT_FIGURE.lower()}
    names: list[str] = []
    for run_name in run_names:
        stem = _UNSAFE.sub("_", run_name.replace("/", "__").replace("\\", "__")).strip("._") or "run"
        stem = stem[:_MAX_STEM]
        candidate, number = stem, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{stem}-{number}"
        taken.add(candidate.lower())
        names.append(f"{candidate}.{extension}")
    return names


# --- SARIF locations ----------------------------------------------------------------

# Findings about what a run's config declared: located at the config line that declared it.
CONFIG_FINDINGS = ("LRD002", "LRD003", "LRD011")
_SOURCE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?: |$)")


def finding_file(result: RunResult, finding: Finding, log_files: Sequence[str]) -> tuple[str, int | None]:
    """The file a run's finding points at, and its line: the config line that set the LR for the
    config findings (when a config said it), else the run's last log file, which holds the steps
    the finding is about; the run's directory only when neither is known."""
    run = result.run
    declared = run.config.lr_schedule or run.config.lr
    match = _SOURCE_LINE.match(declared.source) if declared is not None else None
    if finding.code in CONFIG_FINDINGS and match:
        return str(beside(run.path, match["file"])), int(match["line"])
    if log_files:
        return str(log_files[-1]), None
    return str(run.path), None


def beside(run_path: str | Path, source_file: str) -> Path:
    """A config file named as a source says (relative to the argument the run was found under,
    e.g. "graph_free/config.json" for run "runs/graph_free") as a path: the directories it
    shares with the run's path are the run's."""
    run_parts, parts = Path(run_path).parts, Path(source_file).parts
    shared = max((k for k in range(len(parts)) if run_parts[len(run_parts) - k :] == parts[:k]), default=0)
    return Path(*run_parts[: len(run_parts) - shared], *parts) if run_parts or parts else Path(".")


def totals(report: Report) -> tuple[tuple[str, str | None], ...]:
    """The last line of every report, e.g. ``100 runs: 25 collapsed, 75 ok · findings: ...``,
    as (text, style) pieces: a terminal shows the read problems in yellow, a pipe the text."""
    verdicts: dict[str, int] = {}
    for result in report.results:
        verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
    runs = len(report.results)
    line = (
        f"{runs} run{'s' * (runs != 1)}: {', '.join(f'{n} {v}' for v, n in verdicts.items()) or 'none'}"
        f" · findings: {', '.join(f'{n} {s}' for s, n in report.counts.items())}"
    )
    if not report.problems:
        return ((line, None),)
    return (line, None), (f" · {len(report.problems)} read problems (listed on stderr)", "yellow")


# Formatters register here; imported last because they use the helpers above.
from lrdoctor.report import json, markdown, sarif  # noqa: E402


def _text(report: Report) -> str:
    # here: rich, which only the text report uses, is imported only when it is asked for
    from lrdoctor.report import text

    return text.render(report)


def _sarif(report: Report) -> str:
    # SARIF describes findings only; runs, figures and read problems have no place in it.
    cwd = Path.cwd()
    located = []
    for result in report.results:
        for finding in result.findings:
            path, line = finding_file(result, finding, report.log_files.get(str(result.run.path), ()))
            located.append((finding, sarif.run_location(path, cwd), line))
    return sarif.render_located(located)


FORMATTERS: dict[str, Formatter] = {
    "text": _text,
    "json": json.render,
    "markdown": markdown.render,
    "sarif": _sarif,
}

