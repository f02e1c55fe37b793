"""``lrdoctor diff``: two runs' differing settings and where their curves part, as text and JSON.

JSON keys (schema version 1): ``a`` and ``b`` (``name``, ``path``), ``settings_differ[]`` and
``seeds_differ[]`` (``setting``, ``a`` and ``b``: ``{"value", "source"}`` or null when not
declared), ``settings_same`` (a count), ``partings[]`` (``metric``, ``step`` or null, ``why``,
``a_value``, ``b_value``, ``noise``, ``points``, ``log_scale``), ``first`` (the metric that
parted first, or null), ``summary`` (the sentence the text report leads with), ``figure``.
"""

from __future__ import annotations

from typing import Any

from lrdoctor.insight.diff import Parting, RunDiff, SettingDifference
from lrdoctor.insight.sweep import value_text
from lrdoctor.model import Sourced
from lrdoctor.report.indented import json_text
from lrdoctor.report.json import SCHEMA_VERSION, plain
from lrdoctor.words import display, format_steps, number

METRIC_WORDS = {"kl": "KL", "entropy": "entropy", "episode_return": "episode return"}


def summary(run_diff: RunDiff) -> str:
    """"no setting differs; they part at 1.2M steps in KL first" (names escaped)."""
    if run_diff.differences:
        shown = ", ".join(display(d.setting) for d in run_diff.differences[:5])
        more = f" and {len(run_diff.differences) - 5} more" if len(run_diff.differences) > 5 else ""
        count = len(run_diff.differences)
        settings = f"{count} setting{'s differ' if count != 1 else ' differs'} ({shown}{more})"
    elif not run_diff.a.settings and not run_diff.b.settings:
        settings = "no settings read for either run (no config, hparams or name=value in their names)"
    else:
        settings = "no setting differs"
        if run_diff.seeds:
            settings += " but the seed" if len(run_diff.seeds) == 1 else " but the seeds"
    first = run_diff.first
    if first is None:
        compared = [p for p in run_diff.partings if p.points]
        return f"{settings}; they do not part beyond their noise" + ("" if compared else " (nothing to compare)")
    return f"{settings}; they part at {format_steps(first.step)} steps in {METRIC_WORDS[first.metric]} first"


def _side(value: Sourced | None, key: str) -> str:
    if value is None:
        return "not declared"
    return f"{display(value_text(key, value.value))} ({display(value.source)})"


def render_text(run_diff: RunDiff, figure: str | None = None) -> str:
    out = [f"lrdoctor diff: A = {display(run_diff.a.name)} ({display(str(run_diff.a.path))})",
           f"               B = {display(run_diff.b.name)} ({display(str(run_diff.b.path))})",
           "", summary(run_diff), ""]
    if run_diff.differences or run_diff.seeds:
        out.append("settings that differ:")
        for d in (*run_diff.differences, *run_diff.seeds):
            out.append(f"  {display(d.setting)}: A {_side(d.a, d.setting)}; B {_side(d.b, d.setting)}")
    out.append(f"settings the same: {run_diff.same}")
    out.append("")
    out.append("where they part (smoothed gap over 3x their noise and a tenth of their range, for a tenth of the run):")
    for p in run_diff.partings:
        out.append("  " + parting_text(p))
    if figure:
        out += ["", f"figure: {display(figure)}"]
    return "\n".join(out) + "\n"


def parting_text(p: Parting) -> str:
    name = METRIC_WORDS[p.metric]
    if p.step is None:
        return f"{name}: never ({p.why})"
    scale = " (log10)" if p.log_scale else ""
    return (f"{name}: from {format_steps(p.step)} (A {number(p.a_value)}, B {number(p.b_value)}; "
            f"noise {number(p.noise)}{scale}, {p.points} points)")


def render_json(run_diff: RunDiff, figure: str | None = None) -> str:
    first = run_diff.first
    document = {
        "version": SCHEMA_VERSION,
        "a": {"name": run_diff.a.name, "path": str(run_diff.a.path)},
        "b": {"name": run_diff.b.name, "path": str(run_diff.b.path)},
        "settings_differ": [_difference(d) for d in run_diff.differences],
        "seeds_differ": [_difference(d) for d in run_diff.seeds],
        "settings_same": run_diff.same,
        "partings": [plain(p) for p in run_diff.partings],
        "first": first.metric if first else None,
        "summary": summary(run_diff),
        "figure": figure,
    }
    return json_text(document)


def _difference(d: SettingDifference) -> dict[str, Any]:
    def side(value: Sourced | None):
        return None if value is None else {"value": plain(value.value), "source": value.source}

    return {"setting": d.setting, "a": side(d.a), "b": side(d.b)}
