"""Figures: the LR / KL / entropy story of a run, next to the recommended schedule.

This is the only module that imports matplotlib; callers import it lazily, so
``analyze`` without ``--plots`` never pays for it. Figures are built on
``matplotlib.figure.Figure`` directly, never through pyplot: no GUI backend is
selected (saving uses Agg for PNG, and the vector backends for SVG/PDF), no global
figure registry keeps them alive, and nothing needs a display.

Every figure is built by a ``*_figure`` function that returns the Figure (tests
inspect its artists) and saved by the matching ``draw_*`` function. Artists that
carry the story have a gid ("recommended-lr", "kl-threshold", "collapse-onset", ...)
and every panel a label ("lr", "kl", "entropy", "return"), so they can be found.

Visual language, the same in every figure (Okabe-Ito, safe for colour-blind readers):
logged data in blue, the recommendation in black dashes, problems in vermillion,
expectations in green, phases as alternating grey bands.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from lrdoctor.errors import InputError
from lrdoctor.model import VERDICTS, Finding, Run, RunResult
from lrdoctor.rules.prescription import recommended_schedule
from lrdoctor.schedule import Schedule
from lrdoctor.words import display, figure_text, format_lr, format_steps, kind_word, number, own_name
from lrdoctor.write import write_atomic

BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"
INK = "#333333"  # text that is not data

VERDICT_COLOURS = {
    "collapsed": VERMILLION,
    "unstable": ORANGE,
    "at risk": PURPLE,
    "ok": BLUE,
    "unchecked": GREY,
}
VERDICT_ORDER = tuple(reversed(VERDICTS))  # drawn last = on top

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
DPI = 150  # 10 in wide: 1500 px, still readable when a report scales it to ~1000 px
WIDTH = 10.0
MAX_DRAWN_POINTS = 4000  # per series; beyond this a min/max envelope is drawn instead
SPARSE_POINTS = 40  # series this short get a marker on every point
SCHEDULE_SAMPLES = 801  # a linear ramp is curved on a log axis: sample it densely
LOG_STEPS_SPAN = 10  # a sweep whose longest run is more than this times its shortest gets a log step axis

# A label to place once the layout is final: the label, its candidate spots
# ((x, y) in data, offset in points, vertical alignment), and the curves it must not cover.
Placement = tuple[Annotation, tuple, list[Line2D]]

_STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlecolor": INK,
    "axes.labelsize": 10,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#555555",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "lrdoctor",  # fixed ids: the same data gives the same SVG
    "path.simplify": True,
}


# --- public API ------------------------------------------------------------------


def draw_schedule(schedule: Schedule, path: Path, run: Run | None = None) -> Path:
    """Draw the recommended schedule (and a run's logged LR over it) to path."""
    return _save(lambda: schedule_figure(schedule, run=run), path)


def draw_run(result: RunResult, path: Path) -> Path:
    """Draw one run's LR / KL / entropy (/ return) story to path, beside the schedule recommended
    for it and against the KL threshold its rules judged it by."""
    schedule = recommended_schedule(result.run)
    return _save(lambda: run_figure(result, schedule=schedule, kl_threshold=result.kl_threshold), path)


def draw_sweep(results: Sequence[RunResult], path: Path) -> Path:
    """Draw every run's KL and LR on one figure, coloured by verdict, to path; the threshold line
    is the one most runs were judged by."""
    thresholds = Counter(r.kl_threshold for r in results if r.kl_threshold is not None)
    threshold = thresholds.most_common(1)[0][0] if thresholds else None
    return _save(lambda: sweep_figure(results, kl_threshold=threshold), path)


def figure_format(path: Path) -> str:
    """The file format a figure path asks for, from its suffix."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"figure path must end in one of {', '.join(FORMATS)}: {path}")
    return fmt


# --- the schedule ------------------------------------------------------------------


def schedule_figure(schedule: Schedule, run: Run | None = None) -> Figure:
    """LR on a log axis with the phases shaded and labelled; the expected KL band
    of each phase below. With a run, its logged LR (and KL) drawn over them."""
    with _style():
        end = float(schedule.total_steps)
        if run is not None and run.last_step:
            end = max(end, float(run.last_step))
        fig, header, (lr_ax, kl_ax) = _layout(2, height_ratios=(2.6, 1.5))
        title = (
            f"Recommended schedule: base LR {format_lr(schedule.base_lr)}, "
            f"{format_steps(schedule.total_steps)} steps"
        )
        subtitle = "ultra-slow start, warmup ramp, linear decay — expected KL per phase below"
        if run is not None:
            subtitle = f"over the logged LR of run {run.name}"
        _header(header, title, subtitle)

        lr_ax.set_label("lr")
        lr_ax.set_yscale("log")
        lr_ax.set_title("Learning rate")
        _shade_phases(lr_ax, schedule, end, labels=False)
        sched_line = _draw_schedule_line(lr_ax, schedule, end)
        values = [sched_line.get_ydata()]
        margin = [(schedule.lr(end), "recommended", BLACK)]
        logged = _finite_series(run, "lr", positive=True) if run is not None else None
        if run is not None:
            if logged is not None:
                _plot_series(lr_ax, *logged, color=BLUE, lw=2.0, gid="logged-lr", zorder=4)
                values.append(logged[1])
                margin.append((logged[1][-1], f"logged, peak\n{format_lr(float(np.max(logged[1])))}", BLUE))
            else:
                _not_logged(lr_ax, _absent(run, "lr", "logged LR"))
        # Above the curves: room for the phase labels (two lines), and with a run for the
        # start-gap label, which goes under the logged line when it finds no room over it.
        _set_log_limits(lr_ax, np.concatenate(values), headroom=15.0 if logged is None else 20.0)
        _steps_axis(kl_ax, end, run.step_axis if run is not None else None)
        _label_phases(lr_ax, schedule, end)
        gap = _start_gap(lr_ax, schedule, *logged) if logged is not None else None
        _margin_labels(lr_ax, margin)

        kl_ax.set_label("kl")
        kl_ax.set_title("Expected approx KL per phase")
        top = max(phase.kl_band[1] for phase in schedule.phases)
        if run is not None:
            kl = _finite_series(run, "kl")
            if kl is not None:
                _plot_series(kl_ax, *kl, color=BLUE, lw=1.0, gid="kl", zorder=4)
                top = max(top, float(np.max(kl[1])))
        for phase in schedule.phases:
            low, high = phase.kl_band
            kl_ax.fill_between(
                [phase.start_step, phase.end_step], low, high, color=GREEN, alpha=0.28, lw=0, gid="kl-band"
            )
            if phase.start_step > 0:
                kl_ax.axvline(phase.start_step, color="#888888", lw=0.8, zorder=1)
            if (phase.end_step - phase.start_step) / end > 0.08:
                kl_ax.text(
                    (phase.start_step + phase.end_step) / 2, 0.96, _band_text(phase.kl_band),
                    transform=kl_ax.get_xaxis_transform(), ha="center", va="top", fontsize=9, color=INK,
                )
        if run is not None:
            threshold, source = _run_threshold(run)
            kl_ax.axhline(threshold, color=BLACK, lw=1.1, ls=(0, (5, 3)), gid="kl-threshold", zorder=3)
            top = max(top, threshold)
            _margin_labels(kl_ax, [(threshold, f"threshold {number(threshold)}\n({source})", BLACK)])
        kl_ax.set_ylim(0, top * 1.45)
        kl_ax.set_ylabel("approx KL")
        _place_clear(fig, [gap])
        return fig


def _run_threshold(run: Run) -> tuple[float, str]:
    """The KL limit kl-exceeded judges a run by with its default options: the config's target_kl,
    else its threshold (``analyze`` draws the one its rules used, carried by the finding)."""
    from lrdoctor.rules.kl_exceeded import CODE, threshold_for
    from lrdoctor.rules.options import default_options

    value, source = threshold_for(run, default_options().rule_options[CODE])
    return value, "the run's target_kl" if source.startswith("target_kl") else source


# --- one run -------------------------------------------------------------------------


def run_figure(result: RunResult, *, schedule: Schedule | None, kl_threshold: float | None) -> Figure:
    """One run on a shared step axis: LR (log) vs the recommendation, KL vs its
    threshold and expected bands with the collapse onset, entropy with its trend,
    and return or success rate when logged."""
    run = result.run
    outcome = "episode_return" if _has(run, "episode_return") else "success_rate" if _has(run, "success_rate") else None
    with _style():
        ratios = (2.0, 2.2, 1.6) + ((1.6,) if outcome else ())
        fig, header, axes = _layout(len(ratios), height_ratios=ratios)
        end = _run_end(run, schedule)
        onset = _onset(result)
        _header(header, run.name, _architecture_text(run), verdict=result.verdict)
        _steps_axis(axes[-1], end, run.step_axis)  # first: placements below depend on the step range

        gap = _lr_panel(axes[0], run, schedule, end)
        crossing = _kl_panel(axes[1], run, schedule, end, kl_threshold, onset)
        _trend_panel(axes[2], run, "entropy", "Entropy (+H)", "entropy", judged_change(result, "entropy"))
        if outcome:
            title = "Episode return" if outcome == "episode_return" else "Success rate"
            _trend_panel(axes[3], run, outcome, title, "return", judged_change(result, outcome))
        if onset is not None:
            for ax in axes:
                if ax.get_label() != "kl":
                    ax.axvline(onset.step, color=VERMILLION, lw=1.0, alpha=0.6, gid="collapse-onset-guide", zorder=1)
        _place_clear(fig, [gap, crossing])
        return fig


def _lr_panel(ax: Axes, run: Run, schedule: Schedule | None, end: float) -> Placement | None:
    ax.set_label("lr")
    ax.set_yscale("log")
    ax.set_title(f"Learning rate{_source_text(run, 'lr')}")
    logged = _finite_series(run, "lr", positive=True)
    values = []
    margin = []
    if schedule is not None:
        _shade_phases(ax, schedule, end)
        line = _draw_schedule_line(ax, schedule, end)
        values.append(line.get_ydata())
        margin.append((float(schedule.lr(end)), "recommended", BLACK))
    if logged is not None:
        # Wide and under the recommendation's dashes: a run that followed the schedule shows both.
        _plot_series(ax, *logged, color=BLUE, lw=4.0, alpha=0.75, gid="logged-lr", zorder=4, solid_capstyle="butt")
        values.append(logged[1])
        shape = run.lr_shape.kind if run.lr_shape.kind not in ("unknown", "not-logged") else None
        top = float(np.max(logged[1]))
        text = f"logged, peak\n{format_lr(top)}" + (f" ({shape})" if shape and len(shape) < 10 else "")
        margin.append((float(logged[1][-1]), text, BLUE))
    else:
        _not_logged(ax, _absent(run, "lr", "LR"))
    _mark_nonfinite(ax, run, "lr")
    if values:
        _set_log_limits(ax, np.concatenate(values), headroom=5.0)
    else:
        ax.set_yticks([])
        ax.yaxis.set_minor_locator(NullLocator())
    _margin_labels(ax, margin)
    if schedule is not None and logged is not None:
        return _start_gap(ax, schedule, *logged)
    return None


def _start_gap(ax: Axes, schedule: Schedule, steps: np.ndarray, values: np.ndarray) -> Placement | None:
    """How far above the recommendation training started, as an arrow and a factor:
    for the originating collapse, 3e-4 flat against a recommended start of 3e-6, "100×".
    Only said when the LR was logged during the first phase, i.e. at the start.
    Returns the label still to be placed once the layout is final."""
    if steps[0] > schedule.phases[0].end_step:
        return None
    ratio = values[0] / float(schedule.lr(0))
    if ratio < 3:
        return None
    lo, hi = ax.get_xlim()
    x = max(float(steps[0]), lo + 0.008 * (hi - lo))
    start = float(schedule.lr(0))
    # The arrow spans exactly the ratio; a dotted foot ties its lower end to the schedule's step 0.
    ax.plot([0, x], [start, start], color=VERMILLION, lw=1.2, ls=":", gid="start-gap-foot", zorder=6)
    ax.annotate(
        "",
        xy=(x, start),
        xytext=(x, values[0]),
        arrowprops={"arrowstyle": "<|-|>", "color": VERMILLION, "lw": 1.6, "shrinkA": 0, "shrinkB": 0},
        gid="start-gap",
        zorder=6,
    )
    factor = f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
    label = ax.annotate(
        f"{factor} the recommended start",
        xy=(x, values[0]),
        xytext=(7, -5),
        textcoords="offset points",
        color=VERMILLION,
        fontsize=10,
        fontweight="bold",
        ha="left",
        gid="start-gap-label",
        zorder=6,
    )
    middle = math.sqrt(values[0] * start)
    spots = (((x, values[0]), (7, -5), "top"), ((x, values[0]), (7, 5), "bottom"), ((x, middle), (7, 0), "center"))
    return label, spots, [line for line in ax.lines if line.get_gid() == "recommended-lr"]


def _place_clear(fig: Figure, placements: Sequence[Placement | None]) -> None:
    """Put each label at its first spot that stays inside its panel, off the given
    curves and off other text; drop it when there is none (never write over data).
    Measured on the final layout, so the figure must be complete."""
    placements = [p for p in placements if p is not None]
    if not placements:
        return
    fig.get_layout_engine().execute(fig)
    for label, spots, curves in placements:
        _place_one(label.axes, label, spots, curves)
    # The labels sit inside their panels, so the layout stays right: keep it rather than solve it again at save.
    fig.set_layout_engine("none")


def _place_one(ax: Axes, label: Annotation, spots, curves: list[Line2D]) -> None:
    renderer = ax.figure.canvas.get_renderer()
    panel = ax.get_window_extent(renderer)
    others = [t.get_window_extent(renderer) for t in ax.texts if t is not label and t.get_text()]
    points = [line.get_transform().transform(np.column_stack(line.get_data())) for line in curves]
    points = np.concatenate(points) if points else np.empty((0, 2))
    for xy, offset, va, *ha in spots:
        label.xy = xy
        label.set_position(offset)
        label.set_verticalalignment(va)
        if ha:
            label.set_horizontalalignment(ha[0])
        box = label.get_window_extent(renderer).padded(3)
        inside = panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 and box.y1 <= panel.y1
        on_curve = (
            (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
        ).any()
        if inside and not on_curve and not any(box.overlaps(other) for other in others):
            return
    label.remove()


def _kl_panel(
    ax: Axes, run: Run, schedule: Schedule | None, end: float, judged_by: float | None, onset: Finding | None
) -> Placement | None:
    """The KL against the threshold the run was judged by; without one (the KL rule did not run)
    no line is drawn and nothing is marked as over."""
    ax.set_label("kl")
    ax.set_title(f"Approx KL{_source_text(run, 'kl')}")
    threshold = math.inf if judged_by is None else judged_by
    top = 0.0 if judged_by is None else threshold * 1.6
    crossing = None
    margin = [] if judged_by is None else [(threshold, f"threshold {number(threshold)}", BLACK)]
    if schedule is not None:
        # The schedule's expected band, drawn only below the threshold the run was judged by: a
        # band reaching over the line would call "expected" what the report calls over the limit.
        for phase in schedule.phases:
            low, high = phase.kl_band
            high = min(high, threshold)
            x0, x1 = phase.start_step, min(phase.end_step, end)
            if x0 < end and high > low:
                ax.fill_between([x0, x1], low, high, color=GREEN, alpha=0.13, lw=0, gid="kl-band", zorder=0)
        low, high = schedule.phase_of(end).kl_band if end < schedule.total_steps else schedule.phases[-1].kl_band
        margin.append(((low + min(high, threshold)) / 2, "expected on\nthe schedule", GREEN))
    if judged_by is not None:
        ax.axhline(threshold, color=BLACK, lw=1.1, ls=(0, (5, 3)), gid="kl-threshold", zorder=3)

    kl = _finite_series(run, "kl")
    if kl is None:
        _not_logged(ax, _absent(run, "kl", "KL"))
    else:
        steps, values = kl
        _plot_series(ax, steps, values, color=BLUE, lw=1.1, gid="kl", zorder=4)
        over = values > threshold
        if over.any():
            xs, ys = _envelope(steps[over], values[over], MAX_DRAWN_POINTS)
            ax.plot(xs, ys, ls="none", marker="o", ms=3.2, color=VERMILLION, gid="kl-exceedances", zorder=5)
        peak = int(np.argmax(values))
        top = max(top, _robust_top(values, judged_by if judged_by is not None else 0.0) * 1.32)
        capped = values[peak] > top
        if over.any():
            crossing = _crossing(ax, float(steps[np.argmax(over)]), threshold)
        if values[peak] > threshold and not capped:
            ax.plot(
                [steps[peak]], [values[peak]], ls="none", marker="o", ms=10, mfc="none", mec=VERMILLION, mew=1.8,
                gid="kl-peak", zorder=6, clip_on=False,
            )
            over_by = f"\n({_over_threshold(values[peak] / threshold)})" if threshold > 0 else ""
            margin.append((float(values[peak]), f"peak {number(values[peak])}{over_by}", VERMILLION))
        margin.append((float(values[-1]) if not capped else top, "KL", BLUE))
    _mark_nonfinite(ax, run, "kl")
    bottom = min(0.0, float(np.min(kl[1]))) if kl is not None else 0.0
    ax.set_ylim(bottom, top if top > bottom else bottom + 0.04)  # all-zero KL with a zero threshold
    if kl is not None:
        _mark_off_scale(ax, *kl, top)
    if onset is not None and onset.step is not None:
        ax.axvline(onset.step, color=VERMILLION, lw=1.8, gid="collapse-onset", zorder=6)
        lo, hi = ax.get_xlim()
        right = (onset.step - lo) / (hi - lo) < 0.8
        ax.text(
            onset.step + (0.006 if right else -0.006) * (hi - lo),
            0.96,
            f"collapse onset {_step_text(onset.step)}",
            transform=ax.get_xaxis_transform(),
            ha="left" if right else "right",
            va="top",
            color=VERMILLION,
            fontweight="bold",
            gid="collapse-onset-label",
            zorder=7,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
        )
    _margin_labels(ax, margin)
    return crossing


def _crossing(ax: Axes, step: float, threshold: float) -> Placement:
    """Where KL first went over the threshold, read off the step axis: a drop line and its step.
    Returns the label still to be placed, at the foot of the line, right or left of it, where
    it covers no KL point (on the real CartPole run a label box hid the KL under it)."""
    ax.plot([step, step], [0, threshold], color=VERMILLION, lw=1.0, ls=":", gid="kl-first-crossing", zorder=5,
            transform=ax.transData)
    label = ax.annotate(
        f"first > {number(threshold)} at {_step_text(step)}", xy=(step, 0), xytext=(3, 2),
        textcoords="offset points", ha="left", va="bottom", color=VERMILLION, fontsize=9,
        gid="kl-first-crossing-label", zorder=7,
    )
    spots = []
    for y in (0.0, threshold * 0.5, threshold):
        spots += [((step, y), (3, 2), "bottom", "left"), ((step, y), (-3, 2), "bottom", "right")]
    return label, spots, [line for line in ax.lines if line.get_gid() in ("kl", "kl-exceedances")]


def judged_change(result: RunResult, metric: str) -> tuple[float, float] | None:
    """The early and late values a rule judged the metric by (LRD004's windows), so the figure's
    "↑ 1.44 → 1.71" is the report's, not a rolling median's first and last points."""
    for finding in result.findings:
        evidence = finding.evidence
        if metric == "entropy" and "early_entropy" in evidence and "late_entropy" in evidence:
            return float(evidence["early_entropy"]), float(evidence["late_entropy"])
        if evidence.get("outcome_metric") == metric and "outcome_early" in evidence and "outcome_late" in evidence:
            return float(evidence["outcome_early"]), float(evidence["outcome_late"])
    return None


def _trend_panel(
    ax: Axes, run: Run, metric: str, title: str, label: str, change: tuple[float, float] | None = None
) -> None:
    ax.set_label(label)
    ax.set_title(f"{title}{_source_text(run, metric)}")
    series = _finite_series(run, metric)
    if series is None:
        _not_logged(ax, _absent(run, metric, title.split(" (")[0]))
        ax.set_yticks([])
    else:
        steps, values = series
        trend = _rolling_median(values)
        if trend is None:
            _plot_series(ax, steps, values, color=BLUE, lw=1.6, gid=metric, zorder=3)
        else:
            _plot_series(ax, steps, values, color=SKY, lw=0.8, alpha=0.55, gid=metric, zorder=2)
            xs, ys = _envelope_mean(steps, trend)
            ax.plot(xs, ys, color=BLUE, lw=2.0, gid=f"{metric}-trend", zorder=3)
            start, end = change if change is not None else (float(trend[0]), float(trend[-1]))
            _margin_labels(ax, [(float(trend[-1]), _change_text(start, end), BLUE)])
        if metric == "success_rate":
            ax.set_ylim(-0.03, 1.03)
    _mark_nonfinite(ax, run, metric)


# --- a sweep ----------------------------------------------------------------------------


STRIP_ROWS = 25  # runs ranked one per row; a longer sweep shows its worst 25 and counts the rest
NAMED_LINES = 8  # KL lines numbered at their end with their rank in the strip
SMOOTH_PARTS = 40  # each run's KL is a rolling median over 1/40 of its updates (at least 3)


def sweep_figure(results: Sequence[RunResult], *, kl_threshold: float | None) -> Figure:
    """Every run's KL (and LR) on shared axes, the sick runs bold and coloured by verdict, the
    healthy ones muted; beside them the runs ranked worst first by how far their KL went over the
    threshold, numbered, the same numbers at the ends of the worst lines. Legible at 3, 20 or 100 runs."""
    ranked = sorted(results, key=_severity_rank)
    with _style():
        rows = min(len(ranked), STRIP_ROWS)  # the figure grows with the strip, up to STRIP_ROWS
        fig = Figure(figsize=(WIDTH + 3.6, 0.62 + max(4.6, 1.6 + 0.17 * rows + 1.3)), layout="constrained")
        FigureCanvasAgg(fig)
        fig.get_layout_engine().set(h_pad=0.06, hspace=0.04, wspace=0.03)
        grid = fig.add_gridspec(3, 2, height_ratios=(0.62, 1.5, 3.0), width_ratios=(3.0, 1.25))
        header = fig.add_subplot(grid[0, :])
        header.set_axis_off()
        lr_ax = fig.add_subplot(grid[1, 0])
        kl_ax = fig.add_subplot(grid[2, 0], sharex=lr_ax)
        lr_ax.tick_params(labelbottom=False)
        strip = fig.add_subplot(grid[1:, 1])

        counts = {v: sum(r.verdict == v for r in results) for v in VERDICT_ORDER}
        summary = ", ".join(f"{counts[v]} {v}" for v in reversed(VERDICT_ORDER) if counts[v])
        _header(header, f"Sweep: {len(results)} runs", summary or "no runs")
        handles = [
            Line2D([], [], color=VERDICT_COLOURS[v], lw=2.4, label=f"{v} ({counts[v]})")
            for v in reversed(VERDICT_ORDER)
            if counts[v]
        ]
        if handles:
            header.legend(handles=handles, loc="center right", ncols=len(handles), fontsize=9.5, handlelength=1.6)

        end = max((r.run.last_step or 0 for r in results), default=0) or 1
        lr_ax.set_label("lr")
        lr_ax.set_yscale("log")
        lr_ax.set_title("Learning rate")
        kl_ax.set_label("kl")
        kl_ax.set_title(f"Approx KL: each run's rolling median over 1/{SMOOTH_PARTS} of its updates")
        lr_values, kl_values = [], []
        crowded = len(results) > 8
        for result in reversed(ranked):  # the worst drawn last, on top
            style = _sweep_style(result.verdict, crowded)
            lr = _finite_series(result.run, "lr", positive=True)
            if lr is not None:
                _plot_series(lr_ax, *lr, gid=f"lr:{display(result.run.name)}", **style)
                lr_values.append(lr[1])
            kl = _smoothed(_finite_series(result.run, "kl"))
            if kl is not None:
                _plot_series(kl_ax, *kl, gid=f"kl:{display(result.run.name)}", **style)
                kl_values.append(kl[1])
                over = _over_for_good(result, kl, kl_threshold)
                if over is not None:
                    kl_ax.plot(
                        [over[0]], [over[1]], marker="o", ms=6, mfc="white", mec=style["color"], mew=1.8,
                        gid=f"onset:{display(result.run.name)}", zorder=8, ls="none",
                    )
        if lr_values:
            _set_log_limits(lr_ax, np.concatenate(lr_values), headroom=3.0)
            _log_ticks(lr_ax)
        else:
            _not_logged(lr_ax, "LR not logged in any run")
        margin = []
        top = 0.0
        if kl_threshold is not None:
            kl_ax.axhline(kl_threshold, color=BLACK, lw=1.1, ls=(0, (5, 3)), gid="kl-threshold", zorder=3)
            top = kl_threshold * 1.6
            margin.append((kl_threshold, f"threshold {number(kl_threshold)}", BLACK))
        if kl_values:
            top = max(top, _robust_top(np.concatenate(kl_values), kl_threshold or 0.0) * 1.15)
        else:
            _not_logged(kl_ax, "KL not logged in any run")
        bottom = min([0.0] + [float(np.min(v)) for v in kl_values])
        kl_ax.set_ylim(bottom, top if top > bottom else bottom + 0.04)
        _margin_labels(kl_ax, margin)
        axes_names = {r.run.step_axis for r in results}
        _steps_axis(kl_ax, end, axes_names.pop() if len(axes_names) == 1 else None, log_from=_log_steps_from(results))
        _ranking(strip, ranked, kl_threshold)
        _number_line_ends(fig, kl_ax, ranked[:NAMED_LINES], top)
        return fig


def _number_line_ends(fig: Figure, ax: Axes, ranked: Sequence[RunResult], top: float) -> None:
    """The worst runs' KL lines numbered at their ends with their rank in the strip (a number
    is small enough to sit beside a line end; the name is in the strip). Lines that end at the
    same spot share one label ("2, 3, 5"), measured on the final layout."""
    fig.get_layout_engine().execute(fig)
    renderer = fig.canvas.get_renderer()
    ends: list[tuple[float, float, list[str], str]] = []
    for rank, result in enumerate(ranked, start=1):
        kl = _smoothed(_finite_series(result.run, "kl"))
        if kl is None or result.verdict not in ("collapsed", "unstable", "at risk"):
            continue
        x, y = float(kl[0][-1]), min(float(kl[1][-1]), top)
        px, py = ax.transData.transform((x, y))
        near = next((e for e in ends if abs(e[0] - px) < 40 and abs(e[1] - py) < 30), None)
        if near is not None:
            near[2].append(str(rank))
        else:
            ends.append((px, py, [str(rank)], VERDICT_COLOURS[result.verdict]))
    to_data = ax.transData.inverted()
    placed = []
    for px, py, ranks, colour in ends:
        label = ax.annotate(
            ", ".join(ranks), xy=to_data.transform((px, py)), xytext=(4, 0), textcoords="offset points",
            va="center", ha="left", fontsize=8.5, fontweight="bold", color=colour, gid="rank-label",
            annotation_clip=False,
        )
        for shift in (0, 11, -11, 22, -22):
            label.set_position((4, shift))
            if not any(label.get_window_extent(renderer).overlaps(other) for other in placed):
                break
        placed.append(label.get_window_extent(renderer))
    fig.set_layout_engine("none")


def _severity_rank(result: RunResult) -> tuple:
    """Worst first: by verdict, then by how high the run's smoothed KL went."""
    return (VERDICT_ORDER[::-1].index(result.verdict), -_smoothed_peak(result))


def _smoothed_peak(result: RunResult) -> float:
    kl = _smoothed(_finite_series(result.run, "kl"))
    return float(np.max(kl[1])) if kl is not None else -math.inf


def _over_for_good(result: RunResult, kl: tuple[np.ndarray, np.ndarray], threshold: float | None):
    """Where a sick run's drawn KL went over the threshold for good (from the sustained excess
    its rules found on): a point on the line and above the threshold, never under it."""
    if threshold is None or result.verdict not in ("collapsed", "unstable"):
        return None
    steps, values = kl
    start = next(
        (f.evidence.get(key) for f in result.findings for key in ("kl_sustained_from", "sustained_from")
         if isinstance(f.evidence.get(key), (int, float))),
        None,
    )
    over = (values > threshold) & (steps >= (start if start is not None else -math.inf))
    if not over.any():
        return None
    first = int(np.argmax(over))
    return float(steps[first]), float(values[first])


def _ranking(ax: Axes, ranked: Sequence[RunResult], threshold: float | None) -> None:
    """The runs, worst first, one row each: how high the smoothed KL went against the threshold."""
    ax.set_label("ranking")
    ranks = _strip_rows(ranked)
    shown = [ranked[i] for i in ranks]
    scale = threshold if threshold else 1.0
    peaks = [max(_smoothed_peak(r), 0.0) / scale for r in shown]
    positions = np.arange(len(shown))
    colours = [VERDICT_COLOURS[r.verdict] for r in shown]
    ax.barh(positions, peaks, color=colours, height=0.7 if len(shown) > 5 else 0.45, gid="ranking-bars")
    ax.grid(False, axis="y")
    ax.set_yticks(positions, [f"{i + 1}  {figure_text(_short(r.run.name, 30))}" for i, r in zip(ranks, shown)])
    for tick, result in zip(ax.get_yticklabels(), shown):
        tick.set_color(VERDICT_COLOURS[result.verdict] if result.verdict != "ok" else INK)
        tick.set_fontsize(8.5)
    ax.set_ylim(len(shown) - 0.4, -0.6)
    ax.tick_params(axis="y", length=0)
    limit = max(max(peaks, default=1.0) * 1.25, 1.6 if threshold else 0.0)
    ax.set_xlim(0, limit)
    for y, value in zip(positions, peaks):  # in a column of their own, clear of the bars and the threshold
        ax.text(0.995, y, number(value * scale), transform=ax.get_yaxis_transform(), va="center", ha="right",
                fontsize=7.5, color=INK, gid="ranking-value")
    label = f"peak of the KL median ÷ threshold {number(threshold)}" if threshold else "peak of the KL median"
    if threshold:
        ax.axvline(1.0, color=BLACK, lw=1.0, ls=(0, (5, 3)), gid="ranking-threshold")
    rest = Counter(r.verdict for i, r in enumerate(ranked) if i not in set(ranks))
    if rest:
        said = ", ".join(f"{rest[v]} {v}" for v in reversed(VERDICT_ORDER) if rest[v])
        label += "\n" + "\n".join(textwrap.wrap(f"not listed: {said}", 44))
    ax.set_xlabel(label)
    ax.set_title(f"Runs, worst first{f' ({len(shown)} of {len(ranked)})' if rest else ''}")


# Rows of the strip per verdict when a sweep has more runs than STRIP_ROWS: every kind is seen.
STRIP_QUOTA = {"collapsed": 10, "unstable": 5, "at risk": 5, "unchecked": 2, "ok": 3}


def _strip_rows(ranked: Sequence[RunResult]) -> list[int]:
    """The ranks (0-based, in ``ranked``) the strip lists: all runs when they fit, else the worst
    of each verdict up to its quota, rows left by a verdict with fewer runs going to the worst others."""
    if len(ranked) <= STRIP_ROWS:
        return list(range(len(ranked)))
    chosen: list[int] = []
    for verdict, quota in STRIP_QUOTA.items():
        chosen += [i for i, r in enumerate(ranked) if r.verdict == verdict][:quota]
    spare = [i for i in range(len(ranked)) if i not in set(chosen)]
    chosen += spare[: STRIP_ROWS - len(chosen)]
    return sorted(chosen)


def _log_ticks(ax: Axes) -> None:
    """A log axis labelled at its decades only, and never at a minor tick (they piled up)."""
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 1.0, numticks=8))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: format_lr(y).replace("e-0", "e-")))


def _log_steps_from(results: Sequence[RunResult]) -> float | None:
    """Where a log step axis starts when the runs' lengths differ by more than LOG_STEPS_SPAN
    (a 100K-step run beside 20M-step ones is a sliver at 0 on a linear axis); else None."""
    ends = [r.run.last_step for r in results if r.run.last_step and r.run.last_step > 0]
    if len(ends) < 2 or max(ends) <= LOG_STEPS_SPAN * min(ends):
        return None
    firsts = []
    for result in results:
        for name in ("lr", "kl"):
            points = result.run.metrics.points(name)
            if points is not None and (points[0] > 0).any():
                firsts.append(float(points[0][points[0] > 0].min()))
    return min(firsts) if firsts else None


def _smoothed(
    series: tuple[np.ndarray, np.ndarray] | None, parts: int = SMOOTH_PARTS
) -> tuple[np.ndarray, np.ndarray] | None:
    """Noise from many overlaid runs hides which one went up: compare their rolling medians,
    over 1/``parts`` of each run's updates and at least 3, so every run drawn is smoothed alike."""
    if series is None or len(series[1]) < 3:
        return series
    steps, values = series
    window = max(len(values) // parts, 3)
    return steps, pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def _sweep_style(verdict: str, crowded: bool) -> dict:
    """Bad runs drawn bold and on top; in a crowded sweep the healthy ones recede."""
    if verdict == "collapsed":
        return {"color": VERMILLION, "lw": 2.0, "alpha": 0.95, "zorder": 6}
    if verdict == "unstable":
        return {"color": ORANGE, "lw": 1.5, "alpha": 0.9, "zorder": 5}
    if verdict == "at risk":
        return {"color": PURPLE, "lw": 1.2, "alpha": 0.85, "zorder": 4}
    faint = {"lw": 0.7, "alpha": 0.3} if crowded else {"lw": 1.2, "alpha": 0.75}
    return {"color": VERDICT_COLOURS[verdict], "zorder": 3, **faint}


# --- saving ----------------------------------------------------------------------------


def _save(build, path: Path) -> Path:
    """Render to bytes, then write atomically: an interrupted run leaves no half figure."""
    path = Path(path)
    fmt = figure_format(path)
    with _style():
        fig = build()
        buffer = io.BytesIO()
        # Fixed metadata: the same data gives the same bytes.
        metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(fmt)
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    write_atomic(path, buffer.getvalue())
    return path


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_STYLE):
        yield


def _layout(panels: int, height_ratios: Sequence[float]) -> tuple[Figure, Axes, list[Axes]]:
    """A header strip and panels stacked on one shared step axis."""
    header_height = 0.62
    fig = Figure(figsize=(WIDTH, header_height + sum(height_ratios)), layout="constrained")
    FigureCanvasAgg(fig)  # a renderer to measure text with; no display is involved
    fig.get_layout_engine().set(h_pad=0.06, hspace=0.04)
    grid = fig.add_gridspec(panels + 1, 1, height_ratios=(header_height, *height_ratios))
    header = fig.add_subplot(grid[0])
    header.set_axis_off()
    axes = [fig.add_subplot(grid[1])]
    for row in range(2, panels + 1):
        axes.append(fig.add_subplot(grid[row], sharex=axes[0]))
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    return fig, header, axes


def _header(ax: Axes, title: str, subtitle: str, verdict: str | None = None) -> None:
    # Room is kept on the title line for the verdict badge; long names are shortened in the middle.
    # Both lines name the run and its config's values: escaped as untrusted text.
    title, subtitle = figure_text(_short(title, 72)), figure_text(_words(subtitle, 125))
    ax.text(0, 1, title, fontsize=13.5, fontweight="bold", color=BLACK, va="top", ha="left", gid="title")
    ax.text(0, 0.05, subtitle, fontsize=10, color=INK, va="bottom", ha="left", gid="subtitle")
    if verdict is not None:
        ax.text(
            1,
            0.98,
            verdict.upper(),
            fontsize=12,
            fontweight="bold",
            color="white",
            ha="right",
            va="top",
            gid="verdict",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": VERDICT_COLOURS.get(verdict, GREY), "edgecolor": "none"},
        )


def _steps_axis(ax: Axes, end: float, step_axis: str | None, log_from: float | None = None) -> None:
    """Steps from 0 to a sliver past ``end`` (a point logged there is not cut in half);
    from ``log_from`` on a log scale when given (points at step 0 are then not drawn)."""
    if log_from is None:
        ax.set_xlim(0, end * 1.01)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, steps=[1, 2, 2.5, 5, 10], integer=True, min_n_ticks=3))
    else:
        ax.set_xscale("log", nonpositive="mask")
        ax.set_xlim(log_from / 1.2, end * 1.2)
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_steps(x) if x else "0"))
    names = {"env steps": "environment steps", "timesteps_total": "environment steps (timesteps_total)"}
    label = names.get(step_axis or "", step_axis if step_axis and step_axis != "unknown" else "steps")
    ax.set_xlabel(label + (" (log scale: the runs' lengths differ more than tenfold)" if log_from is not None else ""))


# --- drawing helpers ---------------------------------------------------------------------


def _draw_schedule_line(ax: Axes, schedule: Schedule, end: float) -> Line2D:
    steps = np.union1d(np.linspace(0, end, SCHEDULE_SAMPLES), [s for s, _ in schedule.knots if s <= end])
    (line,) = ax.plot(
        steps, schedule.lr(steps), color=BLACK, lw=1.8, ls=(0, (6, 3)), gid="recommended-lr", zorder=5
    )
    return line


_PHASE_SHORT = {"slow_start": "slow start", "ramp": "ramp", "hold": "hold", "decay": "decay"}


def _shade_phases(ax: Axes, schedule: Schedule, end: float, labels: bool = True) -> None:
    """Alternating grey bands, one per phase, numbered (named where there is room)."""
    for phase in schedule.phases:
        if phase.start_step >= end:
            break
        x1 = min(phase.end_step, end)
        shade = 0.09 if phase.number % 2 else 0.035
        ax.axvspan(phase.start_step, x1, color=BLACK, alpha=shade, lw=0, gid=f"phase-{phase.number}", zorder=0)
        if not labels:
            continue
        width = (x1 - phase.start_step) / end
        text = f"{phase.number} {_PHASE_SHORT[phase.key]}" if width > 0.09 else f"{phase.number}"
        if width > 0.012:
            ax.text(
                (phase.start_step + x1) / 2, 0.97, text, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=8.5, color="#666666", gid="phase-label",
            )


def _label_phases(ax: Axes, schedule: Schedule, end: float) -> None:
    """Name each phase with its LR range; a phase too narrow for its label gets it
    beside it, low down where the ramp has not yet climbed, with a pointer."""
    for phase in schedule.phases:
        x1 = min(phase.end_step, end)
        label = f"{phase.number}  {phase.name}\n{format_lr(phase.start_lr)} → {format_lr(phase.end_lr)}"
        if (x1 - phase.start_step) / end > 0.15:
            ax.text(
                (phase.start_step + x1) / 2, 0.96, label, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=9, color=INK, gid="phase-label", linespacing=1.3,
            )
        else:
            ax.annotate(
                label,
                xy=((phase.start_step + x1) / 2, 0.1),
                xycoords=ax.get_xaxis_transform(),
                xytext=(x1 + 0.025 * end, 0.1),
                textcoords=ax.get_xaxis_transform(),
                ha="left", va="center", fontsize=9, color=INK, gid="phase-label", linespacing=1.3,
                arrowprops={"arrowstyle": "-", "color": "#666666", "lw": 0.8, "shrinkA": 2, "shrinkB": 0},
            )


def _band_text(band: tuple[float, float]) -> str:
    low, high = band
    return f"KL < {high:g}" if low == 0 else f"KL {low:g}–{high:g}"


def _plot_series(ax: Axes, steps: np.ndarray, values: np.ndarray, **style) -> Line2D:
    """A line, thinned for drawing only; a lone point is drawn as a dot."""
    xs, ys = _envelope(steps, values, MAX_DRAWN_POINTS)
    if len(xs) <= SPARSE_POINTS:  # few points: show where the data is, not only the line between
        style = {"marker": "o", "ms": 3.5 if len(xs) > 1 else 6, **style}
    (line,) = ax.plot(xs, ys, **style)
    return line


def _over_threshold(ratio: float) -> str:
    """"+67%" for a peak near the threshold; a ratio for a wild one (a 40-digit percentage
    would push the panel aside)."""
    return f"+{ratio - 1:.0%}" if ratio < 100 else f"{ratio:.3g}x threshold"


def _envelope(steps: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bin's min and max (in step order) so spikes survive thinning."""
    n = len(values)
    if n <= max_points:
        return steps, values
    edges = np.linspace(0, n, max_points // 2 + 1).astype(int)
    starts = edges[:-1]
    low = np.minimum.reduceat(values, starts)
    high = np.maximum.reduceat(values, starts)
    bins = np.repeat(np.arange(len(starts)), np.diff(edges))
    is_low = values == low[bins]
    is_high = values == high[bins]
    # First index of each bin's min and of its max.
    low_at = np.full(len(starts), -1)
    high_at = np.full(len(starts), -1)
    low_idx = np.flatnonzero(is_low)
    high_idx = np.flatnonzero(is_high)
    low_at[bins[low_idx[::-1]]] = low_idx[::-1]
    high_at[bins[high_idx[::-1]]] = high_idx[::-1]
    keep = np.unique(np.concatenate([low_at, high_at, [0, n - 1]]))
    return steps[keep], values[keep]


def _envelope_mean(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A smooth curve needs no envelope: every k-th point is enough to draw it."""
    stride = max(1, len(values) // MAX_DRAWN_POINTS)
    keep = np.unique(np.r_[np.arange(0, len(values), stride), len(values) - 1])
    return steps[keep], values[keep]


def _rolling_median(values: np.ndarray) -> np.ndarray | None:
    """Centred rolling median over ~1/15 of the run: robust to spikes; None if too short."""
    if len(values) < 8:
        return None
    window = max(5, len(values) // 15)
    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def _change_text(start: float, end: float) -> str:
    arrow = "↑" if end > start else "↓" if end < start else "→"
    return f"{arrow} {number(start)} → {number(end)}"


def _mark_nonfinite(ax: Axes, run: Run, metric: str) -> None:
    """NaN/Inf are data: a cross at the bottom of the panel where each one was logged."""
    series = run.metrics.get(metric)
    if series is None or not len(series):
        return
    values = series.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    steps = series.index.to_numpy(dtype=float)[bad]
    ax.plot(
        steps, np.full(len(steps), 0.04), ls="none", marker="x", ms=7, mew=2, color=VERMILLION,
        transform=ax.get_xaxis_transform(), clip_on=False, gid=f"{metric}-nonfinite", zorder=8,
    )
    ax.text(
        float(steps[0]), 0.1, f" {int(bad.sum())} NaN/Inf", transform=ax.get_xaxis_transform(),
        color=VERMILLION, fontsize=9, fontweight="bold", ha="left", va="bottom", gid=f"{metric}-nonfinite-label",
        zorder=9, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5},
    )


def _mark_off_scale(ax: Axes, steps: np.ndarray, values: np.ndarray, top: float) -> None:
    """Points above the panel (spikes that would flatten everything else) as carets on its top edge."""
    above = values > top
    if not above.any():
        return
    xs, _ = _envelope(steps[above], values[above], MAX_DRAWN_POINTS)
    ax.plot(
        xs, np.full(len(xs), 1.0), ls="none", marker="^", ms=6, color=VERMILLION, clip_on=False,
        transform=ax.get_xaxis_transform(), gid="off-scale", zorder=8,
    )
    peak = int(np.argmax(values))
    ax.text(
        float(steps[peak]), 0.93, f"max {number(values[peak])} ", transform=ax.get_xaxis_transform(),
        color=VERMILLION, fontsize=9, ha="right", va="top", gid="off-scale-label",
    )


def _robust_top(values: np.ndarray, threshold: float) -> float:
    """The largest value, unless a few spikes dwarf the rest (then they go off scale)."""
    peak = float(np.max(values))
    typical = max(float(np.quantile(values, 0.99)), threshold)
    return peak if peak <= 4 * typical else typical * 1.5


def _margin_labels(ax: Axes, items: list[tuple[float, str, str]]) -> None:
    """Direct labels right of the panel, at their line's last value, spread so none overlap."""
    if not items:
        return
    to_axes = ax.transAxes.inverted()
    placed = []
    for y, text, color in items:
        if not np.isfinite(y):
            continue
        _, fraction = to_axes.transform(ax.transData.transform((ax.get_xlim()[1], y)))
        placed.append([min(max(fraction, 0.0), 1.0), text, color])
    height_in = ax.get_position().height * ax.figure.get_figheight()
    line = 12.5 / 72 / max(height_in, 0.1)
    placed.sort(key=lambda item: item[0])
    needs = [line * (1 + item[1].count("\n")) for item in placed]
    for i in range(1, len(placed)):
        gap = (needs[i - 1] + needs[i]) / 2
        placed[i][0] = max(placed[i][0], placed[i - 1][0] + gap)
    overflow = placed[-1][0] - 1.0 if placed else 0.0
    if overflow > 0:
        for item in placed:
            item[0] -= overflow
    for fraction, text, color in placed:
        ax.text(
            1.01, fraction, text, transform=ax.transAxes, color=color, fontsize=9, ha="left", va="center",
            clip_on=False, gid="margin-label", linespacing=1.1,
        )


def _absent(run: Run, metric: str, name: str) -> str:
    """Why a panel has no line: never logged, or logged with nothing drawable."""
    if not _has(run, metric):
        return f"{name} not logged"
    return f"{name}: no positive finite value logged" if metric == "lr" else f"{name}: no finite value logged"


def _not_logged(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#666666",
        style="italic", gid="not-logged", bbox={"facecolor": "white", "edgecolor": "#cccccc", "pad": 4},
    )


def _set_log_limits(ax: Axes, values: np.ndarray, headroom: float) -> None:
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        low, high = float(values.min()), float(values.max())
        ax.set_ylim(low / 2.5, high * headroom)


# --- reading the run --------------------------------------------------------------------


def _has(run: Run, metric: str) -> bool:
    series = run.metrics.get(metric)
    return series is not None and len(series) > 0


def _finite_series(run: Run, metric: str, positive: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """The drawable points of a metric in step order, or None when there are none.
    (Non-positive LRs cannot sit on a log axis; non-finite points are marked apart.)"""
    series = run.metrics.get(metric)
    if series is None or not len(series):
        return None
    series = series.sort_index(kind="stable")
    steps = series.index.to_numpy(dtype=float)
    values = series.to_numpy(dtype=float)
    keep = np.isfinite(values) & np.isfinite(steps)
    if positive:
        keep &= values > 0
    if not keep.any():
        return None
    return steps[keep], values[keep]


def _run_end(run: Run, schedule: Schedule | None) -> float:
    last = run.last_step
    if last:
        return float(last)
    return float(schedule.total_steps) if schedule is not None else 1.0


def _onset(result: RunResult) -> Finding | None:
    return next((f for f in result.findings if f.code == "LRD006" and f.step is not None), None)


def _architecture_text(run: Run) -> str:
    arch = run.architecture
    if not arch.known:
        what = "architecture unknown"
    else:
        what = kind_word(arch.kind)
        if own_name(arch.kind, arch.name):
            what += f" “{own_name(arch.kind, arch.name)}”"
        what += ", recurrent" if arch.recurrent else ""
    source = _words(arch.source, 70)
    library = f" · {run.library}" if run.library else ""
    return f"{what} (from {source}){library}"


def _source_text(run: Run, metric: str) -> str:
    source = run.sources.get(metric)
    if source is None:
        return ""
    parts = [source.estimator] if source.estimator else []
    parts.append(("−" if source.negated else "") + figure_text(_short(source.tag, 48)))
    return f"  ({', '.join(parts)})"


def _step_text(step: float) -> str:
    """A step for a label: three significant digits are enough to find it on the axis."""
    return format_steps(step) if step else "0"


def _words(text: str, limit: int) -> str:
    """Prose cut at a word's end, never inside one ("… · npp-rl", not "… · npp-r")."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ·,(") + "…"


def _short(text: str, limit: int = 32) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 1
    return f"{text[: keep // 2]}…{text[-(keep - keep // 2):]}"


# --- the sweep insight and the diff of two runs ------------------------------------

INSIGHT_PANELS = 6  # settings drawn, separating first; more would shrink each past reading
CONTINUOUS_FROM = 13  # distinct values: more than this and a number setting gets a value axis
JITTER_SEED = 100


def draw_insight(insight, path: Path) -> Path | None:
    """One dot per run, per setting that varies: its verdict's colour against its KL share over
    the threshold, the setting's values along x. None when no setting varies."""
    panels = [s for s in insight.separations][:INSIGHT_PANELS]
    if not panels:
        return None
    return _save(lambda: insight_figure(insight, panels), path)


def insight_figure(insight, panels) -> Figure:
    rows = len(panels)
    fig = Figure(figsize=(WIDTH, 0.7 + 2.35 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    title = f"What separates the {insight.sick_words} runs: {insight.sick}/{insight.judged} runs"
    fig.suptitle(figure_text(title), x=0.01, ha="left", fontsize=11.5, fontweight="bold", color=INK)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(JITTER_SEED)
    for ax, separation in zip(axes, panels):
        _insight_panel(ax, insight, separation, rng)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=VERDICT_COLOURS[v], label=v)
        for v in ("collapsed", "unstable", "at risk", "ok")
    ]
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    return fig


def _insight_panel(ax: Axes, insight, separation, rng) -> None:
    from lrdoctor.insight.sweep import value_text

    key = separation.setting
    points = [p for p in insight.points if key in p.settings and p.kl_share_over is not None]
    values = [p.settings[key] for p in points]
    y = np.array([p.kl_share_over for p in points], dtype=float)
    colours = [VERDICT_COLOURS[p.verdict] for p in points]
    distinct = sorted(set(values)) if separation.numeric else sorted(set(values), key=str)
    continuous = separation.numeric and len(distinct) >= CONTINUOUS_FROM
    if continuous:
        x = np.array(values, dtype=float)
        if min(distinct) > 0 and max(distinct) / min(distinct) > 20:
            ax.set_xscale("log")
            x = x * 10 ** rng.uniform(-0.01, 0.01, len(x))
        if separation.threshold is not None:
            ax.axvline(separation.threshold, color=VERMILLION, linestyle="--", linewidth=1.2, gid="insight-split")
    else:
        position = {v: i for i, v in enumerate(distinct)}
        x = np.array([position[v] for v in values], dtype=float) + rng.uniform(-0.28, 0.28, len(values))
        labels = []
        for v in distinct:
            group = next((g for g in separation.values if g.label == value_text(key, v)), None)
            count = f"\n{group.sick}/{group.runs} sick" if group else ""
            labels.append(figure_text(_short(value_text(key, v), 18)) + count)
        ax.set_xticks(range(len(distinct)), labels)
        ax.set_xlim(-0.6, len(distinct) - 0.4)
    order = np.argsort([VERDICT_ORDER.index(p.verdict) for p in points], kind="stable")
    ax.scatter(x[order], y[order], c=[colours[i] for i in order], s=26, alpha=0.8, linewidths=0.4,
               edgecolors="white", zorder=3, gid="insight-runs")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("KL over\nthreshold", fontsize=9)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_label(key)
    status = separation.status
    inside, outside = separation.inside, separation.outside
    detail = (f"{inside.label}: {inside.sick}/{inside.runs} {insight.sick_words}; "
              f"{outside.label}: {outside.sick}/{outside.runs}")
    p = f" · p = {separation.p_adjusted:.2g}" if status != "too few runs" else ""
    ax.set_title(figure_text(f"{key} — {'too few runs to say' if status == 'too few runs' else status} · {detail}{p}"),
                 color=VERMILLION if status == "separates" else INK)
    ax.set_xlabel(figure_text(key), fontsize=9)


def draw_diff(run_diff, path: Path) -> Path:
    """Two runs' KL, entropy and return overlaid, each metric's parting step marked."""
    return _save(lambda: diff_figure(run_diff), path)


def diff_figure(run_diff) -> Figure:
    from lrdoctor.insight.diff import KL_FLOOR, running_median, smoothing_window

    partings = [p for p in run_diff.partings if run_diff.a.metrics.points(p.metric) is not None
                or run_diff.b.metrics.points(p.metric) is not None]
    rows = max(1, len(partings))
    fig = Figure(figsize=(WIDTH, 0.9 + 2.2 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    from lrdoctor.report.diff import summary

    first = run_diff.first
    fig.suptitle(figure_text(summary(run_diff)), x=0.01, ha="left", fontsize=11.5, fontweight="bold", color=INK)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=True)[:, 0]
    names = tuple(f"{side}: " + _short(display(_diff_name(run, other)), 46)
                  for side, run, other in (("A", run_diff.a, run_diff.b), ("B", run_diff.b, run_diff.a)))
    for ax, parting in zip(axes, partings):
        for run, colour, name in ((run_diff.a, BLUE, names[0]), (run_diff.b, ORANGE, names[1])):
            points = run.metrics.points(parting.metric)
            if points is None or not len(points[0]):
                continue
            steps, values = points
            keep = np.isfinite(values)
            steps, values = steps[keep], values[keep]
            if parting.metric == "kl":
                values = np.maximum(values, KL_FLOOR)
                ax.set_yscale("log")
            ax.plot(steps, values, color=colour, linewidth=0.8, alpha=0.35)
            if len(values) >= 5:
                smooth = running_median(values, smoothing_window(len(values)))
                ax.plot(steps, smooth, color=colour, linewidth=2.0, label=figure_text(name), gid="diff-smoothed")
        if parting.step is not None:
            is_first = first is not None and parting.metric == first.metric
            ax.axvline(parting.step, color=VERMILLION, linestyle="--", linewidth=1.6 if is_first else 1.0,
                       gid="diff-parting")
            ax.annotate(f"part at {_step_text(parting.step)}" + (" (first)" if is_first else ""),
                        xy=(parting.step, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -12),
                        textcoords="offset points", color=VERMILLION, fontsize=9)
        why = "" if parting.step is not None else f" — {parting.why}"
        ax.set_title(figure_text(_METRIC_TITLE[parting.metric] + why))
        ax.set_label(parting.metric)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda v, _: _step_text(v)))
    return fig


_METRIC_TITLE = {"kl": "KL", "entropy": "entropy", "episode_return": "episode return"}


def _diff_name(run: Run, other: Run) -> str:
    """A run's name, or the end of its path when both runs have the same name (two ``PPO_1``)."""
    if run.name != other.name:
        return run.name
    return "/".join(Path(run.path).parts[-2:])
