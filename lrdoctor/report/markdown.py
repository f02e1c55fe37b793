"""The Markdown report: what a person pastes into an issue.

Per run: the problem (the top cause), what it explains, the evidence as a small
table, the recommended schedule with its numbers and the one line that applies
it, and the run's figure when ``--plots`` drew one (links relative to the report).

Every string a run, a config or a finding brings goes through ``words.markdown``
where it is placed, exactly once: it renders as written, never as HTML, a link or
a new table cell. Only lrdoctor's own words (codes, verdicts, numbers) are markup.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

from lrdoctor.model import Finding, ReadNote, RunResult, Severity
from lrdoctor.report import (
    Report,
    cause_first,
    checked_findings,
    evidence_items,
    fix_code,
    fix_phases,
    fixes,
    insight,
    kl_band_text,
    lr_shape_text,
    peak,
    unchecked_findings,
)
from lrdoctor.words import architecture_label, format_lr, format_steps, markdown

COLLAPSE = "LRD006"  # the headline when present: DESIGN.md, rules table
CODE_COMMENT = {"sb3": "# Stable-Baselines3 / sb3-contrib", "torch": "# PyTorch (LambdaLR)"}


def render(report: Report) -> str:
    lines = ["# lrdoctor report", ""]
    lines += overview(report)
    if report.sweep_figure:
        lines += [f"![KL and LR of every run]({link(report.sweep_figure)})", ""]
    for result in report.results:
        lines += run_section(result, report)
    lines += insight.markdown_lines(report.insight, link(report.insight_figure) if report.insight_figure else None)
    if report.problems:
        lines += ["## Read problems", ""]
        lines += [f"- {markdown(where(note))}: {markdown(note.message)}" for note in report.problems]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def overview(report: Report) -> list[str]:
    counts = ", ".join(f"{n} {severity}" for severity, n in report.counts.items())
    count = len(report.results)
    lines = [f"{count} run{'s' * (count != 1)} analysed; findings: {counts}.", ""]
    lines += ["| run | architecture | LR | peak KL | verdict |", "|---|---|---|---|---|"]
    for result in report.results:
        lines.append(
            "| "
            + " | ".join(
                (
                    markdown(result.run.name),
                    markdown(f"{architecture_label(result.run.architecture)} ({result.run.architecture.source})"),
                    markdown(lr_shape_text(result)),
                    markdown(peak_kl(result, result.kl_threshold)),
                    f"**{result.verdict}**" if result.verdict in ("collapsed", "unstable") else result.verdict,
                )
            )
            + " |"
        )
    return lines + [""]


def peak_kl(result: RunResult, threshold: float | None) -> str:
    kl = result.run.metrics.points("kl")
    if kl is None:
        return "not logged"
    top = peak(kl)
    if top is None:
        return "no finite value"
    over = ""
    if threshold is not None and top.value > threshold:
        over = f" ({top.value / threshold - 1:.0%} over {threshold:g})"
    return f"{top.value:.4g} at {format_steps(top.step)}{over}"


def run_section(result: RunResult, report: Report) -> list[str]:
    run = result.run
    lines = [f"## {markdown(run.name)} — {result.verdict}", ""]
    lines.append(
        f"Architecture: {markdown(architecture_label(run.architecture))} (from {markdown(run.architecture.source)}). "
        f"LR: {markdown(lr_shape_text(result))}. Library: {markdown(run.library or 'unknown')}, "
        f"step axis: {markdown(run.step_axis)}"
        + (f", last step {format_steps(run.last_step)}." if run.last_step is not None else ".")
    )
    lines.append("")
    checked = checked_findings(result)
    if checked:
        lines += findings_list(checked)
        lines += evidence_table(checked)
        for fix in fixes(result):
            lines += recommendation(fix)
    else:
        lines += [status(result), ""]
    unchecked = unchecked_findings(result)
    if unchecked:
        lines.append("Not checked:")
        lines += [f"- {markdown(f.message)}" for f in unchecked]
        lines.append("")
    if run.notes:
        lines.append("Read with problems (the rest of the run was used):")
        lines += [f"- {markdown(where(note))}: {markdown(note.message)}" for note in run.notes]
        lines.append("")
    figure = report.figure_of(result)
    if figure:
        lines += [f"![{markdown(run.name)}]({link(figure)})", ""]
    return lines


def where(note: ReadNote) -> str:
    return note.path + (f" @ {note.offset}" if note.offset is not None else "")


def findings_list(findings: list[Finding]) -> list[str]:
    """The problem in a sentence (the collapse when there is one), its cause, then every
    finding nested under the one that explains it."""
    ordered = cause_first(findings)
    root = ordered[0][1]
    problem = next((f for f in findings if f.code == COLLAPSE), root)
    lines = [f"**Problem:** {markdown(problem.message)} ({describe(problem)})", ""]
    if problem is not root:
        lines += [f"**Cause:** {markdown(root.message)} ({describe(root)})", ""]
    if len(ordered) > 1:
        lines += ["Findings, each under the one that explains it:", ""]
        lines += [f"{'  ' * depth}- {describe(finding)}: {markdown(finding.message)}" for depth, finding in ordered]
        lines.append("")
    return lines


def describe(finding: Finding) -> str:
    where = f", step {format_steps(finding.step)}" if finding.step is not None else ""
    return f"`{finding.code}` {finding.rule}, {Severity(finding.severity).value}{where}"


def evidence_table(findings: list[Finding]) -> list[str]:
    """One row per finding: its step and its numbers, so the table stays small."""
    rows = []
    for _, finding in cause_first(findings):
        numbers = evidence_items(finding.evidence)
        if numbers:
            step = format_steps(finding.step) if finding.step is not None else ""
            shown = "; ".join(f"{key} {value}" for key, value in numbers)
            rows.append(f"| `{finding.code}` {finding.rule} | {step} | {markdown(shown)} |")
    if not rows:
        return []
    return ["**Evidence**", "", "| finding | step | evidence |", "|---|---|---|", *rows, ""]


def recommendation(fix: Mapping[str, Any]) -> list[str]:
    lines = [f"**Recommendation:** {markdown(str(fix.get('summary', '')))}", ""]
    phases = fix_phases(fix)
    if phases:
        lines += ["| phase | steps | LR | expected KL |", "|---|---|---|---|"]
        for phase in phases:
            start = format_steps(phase["start_step"]) if phase["start_step"] else "0"
            lines.append(
                f"| {phase['number']} {phase['name']} | {start} → {format_steps(phase['end_step'])} "
                f"| {format_lr(phase['start_lr'])} → {format_lr(phase['end_lr'])} | {kl_band_text(phase['kl_band'])} |"
            )
        lines.append("")
    code = fix_code(fix)
    if code:
        lines.append("```python")
        for target, line in code.items():
            if target in CODE_COMMENT:
                lines.append(CODE_COMMENT[target])
            lines.append(line)
        lines += ["```", ""]
    return lines


def status(result: RunResult) -> str:
    """What was checked; "no problems" is only said of the metrics that were there."""
    run = result.run
    if not run.metrics:
        return (
            f"Nothing checked: none of the {len(run.unknown_tags)} logged tags is a known metric "
            "(map one with `--tag metric=tag`)."
        )
    qualifier = " that could be checked" if unchecked_findings(result) else ""
    return f"No problems found in the metrics{qualifier}: {', '.join(run.metrics)}."


def link(path: str) -> str:
    """A figure's path as a link destination: percent-encoded, so no space, bracket or
    angle bracket in a directory name ends the link or opens HTML."""
    return quote(path)
