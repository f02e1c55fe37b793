"""The terminal report: a table across runs, then each run's findings, cause first.

Everything a run, a path or a message says goes through ``Text`` objects, never
rich markup, so a run called "[bold]x" prints as written; and through ``display``,
so no control, bidi or zero-width character it holds reaches the terminal.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lrdoctor.insight.sweep import Insight
from lrdoctor.model import Finding, Points, RunResult, Severity
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
from lrdoctor.report import totals as report_totals
from lrdoctor.words import architecture_label, display, format_lr, format_steps, number

WIDTH = 120  # of the plain-text report written to a file; a terminal uses its own
SPARK_WIDTH = 16
SPARKLINES_FROM = 100  # columns; narrower, the summary table leaves the sparklines out
SOURCE_WIDTH = 28
MIN_NAME = 12  # cells a run's name keeps however narrow the terminal
NARROW_LR = 14  # "constant 3e-04", "warmup-decay," / "peak 9.99e-05": the LR column when room is short
BLOCKS = "▁▂▃▄▅▆▇█"
NON_FINITE_MARK = "×"

VERDICT_STYLE = {
    "collapsed": "bold red",
    "unstable": "red",
    "at risk": "yellow",
    "ok": "green",
    "unchecked": "dim",
}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render(report: Report) -> str:
    """The report as plain text (no colours), for ``--output`` files and tests."""
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None, force_terminal=False)
    print_report(console, report)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def print_report(console: Console, report: Report) -> None:
    """Print the report on a console; in colour when the console is a terminal.

    A ``no_wrap`` line (a fix's code) is printed whole, not folded, so it
    stays one line to copy.
    """
    for part in renderables(report):
        whole = isinstance(part, Text) and bool(part.no_wrap)
        console.print(part, crop=not whole, soft_wrap=whole)


def renderables(report: Report) -> list[RenderableType]:
    """The report as rich objects, for printing in colour to a terminal."""
    parts: list[RenderableType] = [SummaryTable(report)]
    for result in report.results:
        parts.extend(run_section(result, report))
    parts.extend(insight_section(report.insight))
    parts.append(Text(""))
    parts.append(totals(report))
    return parts


def insight_section(found: Insight | None) -> list[RenderableType]:
    """The sweep insight's section; nothing when there is no sweep."""
    if found is None:
        return []
    parts: list[RenderableType] = [Text(""), Text("sweep insight " + "─" * 40, style="bold")]
    style = "bold red" if found.separating else None
    for index, line in enumerate(insight.lines(found)):
        parts.append(Text("  " + line, style=style if index == 0 else None))
    return parts


# --- the table across runs ---------------------------------------------------------


def summary_table(
    report: Report,
    peaks_on_one_line: bool = False,
    name_width: int | None = None,
    sparklines: bool = True,
    sources: bool = True,
    lr_width: int = 20,
) -> Table:
    count = len(report.results)
    table = Table(title=f"lrdoctor: {count} run{'s' * (count != 1)}", title_justify="left", box=box.SIMPLE_HEAD)
    # Nothing is cut: a run's name is whole on one line while the table fits, else it folds
    # (its cells continue on the next line) like the LR and the architecture do.
    table.add_column("run", width=name_width, overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("peak KL", justify="right", no_wrap=True)
    if sparklines:
        table.add_column("KL", no_wrap=True)
    table.add_column("LR", max_width=lr_width)
    table.add_column("architecture", max_width=SOURCE_WIDTH, overflow="fold")
    for result in report.results:
        threshold = result.kl_threshold
        source = display(result.run.architecture.source)
        cells = [
            name_text(display(result.run.name), name_width),
            Text(result.verdict, style=VERDICT_STYLE.get(result.verdict, "")),
            peak_kl_text(result.run.metrics.points("kl"), threshold, peaks_on_one_line),
            sparkline(result.run.metrics.points("kl"), threshold) if sparklines else None,
            Text(lr_shape_text(result), overflow="fold"),
            Text.assemble(
                display(architecture_label(result.run.architecture)),
                *(("\n", (folded(source, SOURCE_WIDTH), "dim")) if sources else ()),
                overflow="fold",
            ),
        ]
        table.add_row(*(cell for cell in cells if cell is not None))
    return table


def peak_kl_text(kl: Points | None, threshold: float | None, one_line: bool = False) -> Text:
    """The peak and its step, on one line or the step under the value (a narrower column);
    red when over the threshold the run was judged by (None: the KL rule did not run)."""
    if kl is None:
        return Text("not logged", style="dim")
    top = peak(kl)
    if top is None:
        return Text("no finite value", style="red")
    at = (" " if one_line else "\n") + "@ " + format_steps(top.step)
    over = threshold is not None and top.value > threshold
    return Text.assemble((number(top.value), "red" if over else ""), (at, "dim"))


def name_text(name: str, width: int | None) -> Text:
    """A run's name, whole: on one line, or in ``width`` cells folded after its slashes
    (``sweep/`` then ``RecurrentPPO_1``), a part longer than the line folding within itself."""
    if width is None or len(name) <= width:
        return Text(name, overflow="fold")
    return Text(folded(name, width), overflow="fold")


def folded(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` cells, broken at its spaces and after its slashes,
    so a path folds between its parts (``run_name/`` then ``config.json:8``), not inside a name."""
    lines = [""]
    for part in re.split(r"(?<=[/ ])", text):
        if lines[-1] and len(lines[-1].rstrip()) + len(part.rstrip()) > width:
            lines[-1] = lines[-1].rstrip()
            lines.append("")
        lines[-1] += part
    return "\n".join(line.rstrip() for line in lines)


class SummaryTable:
    """The table across runs laid out for the width it is printed in: each peak KL on one
    line with its step when the whole table fits so, else with the step under it; names
    whole unless even that leaves them more than a third of the line. Below
    ``SPARKLINES_FROM`` columns the KL sparklines go first: there they would leave the LR
    and the architecture, which name the cause, only a few cells."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(1 << 16)
        sparklines = options.max_width >= SPARKLINES_FROM
        layouts = [{"peaks_on_one_line": True}, {}]
        if not sparklines:
            # where the architecture came from is in each run's section, whole
            layouts += [{"sparklines": False}, {"sparklines": False, "sources": False}]
        for layout in layouts:  # each table built only when the one before did not fit
            table = summary_table(self.report, **layout)
            if Measurement.get(console, unbounded, table).maximum <= options.max_width:
                yield table
                return
        # Not even so: the names get the room the other columns leave (at least MIN_NAME cells),
        # folding at their slashes, so long names do not squeeze the verdict, the peak and the LR.
        narrow = {"sparklines": sparklines, "sources": sparklines, "lr_width": NARROW_LR}
        narrowest = summary_table(self.report, name_width=MIN_NAME, **narrow)
        spare = options.max_width - Measurement.get(console, unbounded, narrowest).maximum
        yield summary_table(self.report, name_width=MIN_NAME + max(spare, 0), **narrow)


def sparkline(kl: Points | None, threshold: float | None, width: int = SPARK_WIDTH) -> Text:
    """KL in unicode blocks, the maximum of each bin; bins over the threshold in red.

    The scale tops at the larger of the peak and the threshold, so a run that
    stays well under its threshold also looks low. A bin holding NaN/Inf shows ×.
    Without a threshold (the KL rule did not run) the scale is the peak and nothing is red.
    """
    if kl is None or not len(kl[1]):
        return Text("")
    values = kl[1]
    finite = np.isfinite(values)
    spread = np.linspace(0, len(values), width, endpoint=False).astype(int)
    starts = spread[np.diff(spread, prepend=-1) != 0]  # distinct, in order (np.unique imports numpy.ma)
    highs = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
    broken = np.logical_or.reduceat(~finite, starts)
    limit = math.inf if threshold is None else threshold
    top = max(float(highs.max()) if finite.any() else 0.0, threshold or 0.0) or 1.0
    levels = np.clip(np.ceil(highs / top * len(BLOCKS)) - 1, 0, len(BLOCKS) - 1)
    line = Text()
    for high, level, bad in zip(highs, levels, broken):
        if bad:
            line.append(NON_FINITE_MARK, style="bold red")
        else:
            line.append(BLOCKS[int(level)], style="red" if high > limit else "")
    return line


# --- one run -------------------------------------------------------------------------


def run_section(result: RunResult, report: Report) -> list[RenderableType]:
    run = result.run
    title = Text.assemble((display(run.name), "bold"), "  ", (result.verdict, VERDICT_STYLE.get(result.verdict, "")))
    figure = display(report.figure_of(result) or "")
    if not (result.findings or run.notes or report.verbose or not run.metrics):
        # A clean run in a sweep: one line, so the runs with findings stand out.
        line = Text.assemble(title, "  ", status_line(result).plain.strip())
        return [line] + ([Text(f"  figure: {figure}")] if figure else [])
    parts: list[RenderableType] = [Text(""), Rule(title, align="left"), run_facts(result)]
    if report.verbose:
        parts.append(Padding(metric_table(result), (0, 0, 0, 2)))
    checked = checked_findings(result)
    if checked:
        parts.append(Padding(findings_tree(checked, report.verbose), (0, 0, 0, 2)))
        for fix in fixes(result):
            parts.extend(fix_block(fix))
    parts.append(status_line(result))
    for finding in unchecked_findings(result):
        parts.append(Text(f"  not checked: {display(finding.message)}", style="dim"))
    for note in run.notes:
        where = display(note.path) + (f" @ {note.offset}" if note.offset is not None else "")
        parts.append(Text(f"  {'note' if note.info else 'read'}: {where}: {display(note.message)}", style="dim"))
    if figure:
        parts.append(Text(f"  figure: {figure}"))
    return parts


def run_facts(result: RunResult) -> RenderableType:
    run = result.run
    lr_source = run.sources.get("lr")
    lr_from = f" (from {display(lr_source.tag)})" if lr_source else ""
    last = run.last_step
    facts = Text(f"path: {display(str(run.path))}\narchitecture: {display(architecture_label(run.architecture))}")
    facts.append(f" — {display(run.architecture.source)}", style="dim")
    facts.append(f"\nLR: {lr_shape_text(result)}{lr_from}")
    facts.append(f"\nlibrary: {display(run.library or 'unknown')} · step axis: {display(run.step_axis)}")
    if last is not None:
        facts.append(f" · last step: {format_steps(last)}")
    return Padding(facts, (0, 0, 0, 2))


def metric_table(result: RunResult) -> RenderableType:
    """--verbose: which tag fed each metric, and the tags nobody claimed."""
    run = result.run
    table = Table(title="metrics", title_justify="left", box=None, padding=(0, 2, 0, 0))
    for header in ("metric", "tag", "sign", "KL estimator", "points", "steps"):
        table.add_column(header)
    for metric in run.metrics:
        extent = run.metrics.extent(metric)
        source = run.sources.get(metric)
        span = f"{format_steps(extent.first_step)} → {format_steps(extent.last_step)}" if extent.count else ""
        table.add_row(
            Text(metric),
            Text(display(source.tag) if source else "?"),
            Text("negated (−H logged)" if source and source.negated else "as logged"),
            Text((source.estimator if source else None) or ""),
            Text(str(extent.count)),
            Text(span),
        )
    # tag names are written by whoever wrote the logs: escaped like file names
    unknown = ", ".join(map(display, run.unknown_tags)) if run.unknown_tags else "none"
    grid = Table.grid()
    grid.add_row(table)
    grid.add_row(Text(f"unknown tags ({len(run.unknown_tags)}): {unknown}", style="dim"))
    return grid


def finding_label(finding: Finding, evidence: bool = False) -> Text:
    """Severity, code, rule and step; the message; with ``evidence`` (--verbose) its numbers."""
    severity = Severity(finding.severity).value
    label = Text.assemble(
        (f"{severity:<7}", SEVERITY_STYLE.get(severity, "")),
        " ",
        (finding.code, "bold"),
        " ",
        finding.rule,
    )
    if finding.step is not None:
        label.append(f" @ {format_steps(finding.step)}", style="dim")
    label.append(f"\n{display(finding.message)}")
    shown = evidence_items(finding.evidence) if evidence else []
    if shown:
        label.append("\n" + display(" · ".join(f"{key} {value}" for key, value in shown)), style="dim")
    return label


def findings_tree(findings: list[Finding], evidence: bool = False) -> Tree:
    """Each cause as a branch, the findings it explains under it (their evidence with ``evidence``)."""
    tree = Tree(Text(""), hide_root=True, guide_style="dim")
    branches: list[Tree] = [tree]
    for depth, finding in cause_first(findings):
        del branches[depth + 1 :]
        branches.append(branches[depth].add(finding_label(finding, evidence)))
    return tree


def fix_block(fix) -> list[RenderableType]:
    summary = Text.assemble(("fix: ", "bold green"), display(str(fix.get("summary", ""))))
    parts: list[RenderableType] = [Padding(summary, (0, 0, 0, 2))]
    phases = fix_phases(fix)
    if phases:
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False)
        for header in ("phase", "steps", "LR", "expected KL"):
            table.add_column(header, style="green" if header == "LR" else "")
        for phase in phases:
            start = format_steps(phase["start_step"]) if phase["start_step"] else "0"
            table.add_row(
                Text(f"{phase['number']} {phase['name']}"),
                Text(f"{start} → {format_steps(phase['end_step'])}"),
                Text(f"{format_lr(phase['start_lr'])} → {format_lr(phase['end_lr'])}"),
                Text(kl_band_text(phase["kl_band"])),
            )
        parts.append(Padding(table, (0, 0, 0, 4)))
    for target, line in fix_code(fix).items():
        parts.append(Text.assemble(f"    {target}: ", (display(line), "cyan"), no_wrap=True, overflow="ignore"))
    return parts


def status_line(result: RunResult) -> Text:
    """What was and was not checked; "no problems" is only said of the checked metrics."""
    run = result.run
    if not run.metrics:
        return Text(
            f"  nothing checked: none of the {len(run.unknown_tags)} logged tags is a known metric"
            " (map one with --tag metric=tag; --verbose lists them)",
            style="yellow",
        )
    if checked_findings(result):
        return Text("")
    scope = ", ".join(run.metrics)
    qualifier = " that could be checked" if unchecked_findings(result) else ""
    return Text(f"  no problems found in the metrics{qualifier}: {scope}", style="green")


def totals(report: Report) -> Text:
    return Text.assemble(*report_totals(report))
