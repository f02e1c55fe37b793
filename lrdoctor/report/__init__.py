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
from lrdoctor.model import Finding, Points, ReadNote, RunResult, Severity
from lrdoctor.schedule import Schedule
from lrdoctor.words import format_lr, format_steps

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
    """One evidence value as people read it: steps in K/M, numbers to 4 digits, NaN as nan."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if _is_step(key) and math.isfinite(number) and number == int(number):
            return format_steps(int(number))
        if "lr" in key.split("_") and math.isfinite(number) and number > 0:
            return format_lr(number)
        return f"{number:.4g}"
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


# Formatters register here; imported last because they use the helpers above.
from lrdoctor.report import json, markdown, sarif, text  # noqa: E402


def _sarif(report: Report) -> str:
    # SARIF describes findings only; runs, figures and read problems have no place in it.
    cwd = Path.cwd()
    return sarif.render_located(
        [(finding, sarif.run_location(result.run.path, cwd)) for result in report.results for finding in result.findings]
    )


FORMATTERS: dict[str, Formatter] = {
    "text": text.render,
    "json": json.render,
    "markdown": markdown.render,
    "sarif": _sarif,
}

