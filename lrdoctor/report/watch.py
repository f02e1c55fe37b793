"""The output of ``lrdoctor watch``: a line per new finding, a line per changed run, the
closing summary and the live table of the runs.

They format what a pass of ``lrdoctor.live.watch.poll`` returns (its ``Sighting``s and
``WatchState``), read by attribute: the reporters do not import the watch that makes them.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from lrdoctor.model import RunResult
from lrdoctor.rules.common import numbers
from lrdoctor.words import display, format_steps


def finding_line(sighting) -> str:
    """``2026-06-11 14:02:07 run: LRD001 error at step 1,900,544 (read to step 2,097,152): message``"""
    finding = sighting.finding
    seen = datetime.fromtimestamp(sighting.seen_at).strftime("%Y-%m-%d %H:%M:%S")
    at = f" at step {finding.step:,}" if finding.step is not None else ""
    read = f" (read to step {sighting.read_to_step:,})" if sighting.read_to_step is not None else ""
    cause = f" [caused by {finding.caused_by}]" if finding.caused_by else ""
    run = display(finding.run or sighting.run_path)
    # the message quotes names from configs and file names: one printable line, whatever they hold
    return f"{seen} {run}: {finding.code} {finding.severity.value}{at}{read}: {display(finding.message)}{cause}"


def run_label(result: RunResult | None) -> str:
    step = result.run.last_step if result is not None else None
    name = display(result.run.name) if result is not None else "?"
    return f"{name} read to step {step:,}" if step is not None else f"{name}: no steps yet"


def summary(state, stopped_by, level: str | None) -> str:
    """The closing line: runs, passes and the findings now; and the sighting that stopped the watch."""
    findings = [f for result in state.results for f in result.findings]
    counts = ", ".join(
        f"{sum(f.severity.value == name for f in findings)} {name}" for name in ("error", "warning", "info")
    )
    runs = f"{len(state.runs)} run" + ("s" if len(state.runs) != 1 else "")
    passes = f"{state.passes} pass" + ("es" if state.passes != 1 else "")
    line = f"watched {runs} for {passes}; findings now: {counts}"
    if stopped_by is not None:
        finding = stopped_by.finding
        line += (
            f"; stopped at pass {stopped_by.pass_number} by {finding.code} {finding.severity.value}"
            f" in {display(finding.run or '')} (--exit-on {level})"
        )
    return line


def runs_table(state) -> Table:
    """One row per run: how far it has got, its KL, and what the rules say now."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("run", "architecture", "step", "KL now", "KL peak", "state", "findings"):
        numeric = column in ("step", "KL now", "KL peak")
        # a run's name is how the user finds it: folded, never cut short
        table.add_column(column, justify="right" if numeric else "left", overflow="fold", min_width=4)
    for live in state.runs.values():
        if live.result is None:
            continue
        run = live.result.run
        kl = numbers(run, "kl")
        has_kl = len(kl) > 0
        table.add_row(
            display(run.name),
            run.architecture.kind,
            format_steps(run.last_step) if run.last_step is not None else "-",
            f"{kl.values[-1]:.4g}" if has_kl else "-",
            f"{kl.values.max():.4g}" if has_kl else "-",
            live.result.verdict,
            " ".join(sorted({f.code for f in live.result.findings})),
        )
    return table
