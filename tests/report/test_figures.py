"""Figures, checked through matplotlib's objects (lines, texts, scales), not pixels.

All runs here are synthetic: built by hand to the shape of the originating
collapse (GRU at a constant 3e-4, KL over 0.02, entropy rising) and its healthy twin.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdoctor.errors import InputError
from lrdoctor.model import Architecture, Finding, Run, RunResult, Severity
from lrdoctor.report import figures as plots
from lrdoctor.schedule import Schedule

THRESHOLD = 0.025  # not the default 0.02, so a hard-coded line would be caught
ONSET = 3_100_000


def synthetic_collapse(n: int = 300, end: int = 5_000_000, lr: float = 3e-4, name: str = "gru_constant_lr"):
    """Synthetic: constant LR, KL climbing over the threshold, entropy rising, return falling."""
    rng = np.random.default_rng(1)
    steps = np.linspace(end / n, end, n).astype(np.int64)
    t = steps / end
    kl = 0.005 + 0.03 * t + rng.normal(0, 0.001, n)
    metrics = {
        "lr": pd.Series(np.full(n, lr), index=steps),
        "kl": pd.Series(kl, index=steps),
        "entropy": pd.Series(0.9 + 0.3 * t, index=steps),
        "episode_return": pd.Series(50 - 30 * t, index=steps),
    }
    run = Run(
        name=name,
        path=Path("synthetic") / name,
        metrics=metrics,
        architecture=Architecture("gru", True, "graph_free", "config.yaml:3 model.rnn"),
    )
    onset = Finding("LRD006", "policy-collapse", Severity.error, "policy collapse", run=name, step=ONSET)
    return RunResult(run, (onset,))


def synthetic_healthy(n: int = 200, end: int = 20_000_000, name: str = "gru_recommended"):
    """Synthetic: the recommended schedule followed, KL inside its bands."""
    schedule = Schedule(base_lr=1e-4, total_steps=end)
    steps = np.linspace(end / n, end, n).astype(np.int64)
    lr = schedule.lr(steps.astype(float))
    metrics = {
        "lr": pd.Series(lr, index=steps),
        "kl": pd.Series(0.004 + 100 * lr, index=steps),
        "entropy": pd.Series(np.linspace(1.2, 0.6, n), index=steps),
    }
    return RunResult(Run(name=name, path=Path("synthetic") / name, metrics=metrics))


def panel(fig, label):
    found = [ax for ax in fig.axes if ax.get_label() == label]
    assert len(found) == 1, f"expected one {label!r} panel, found {len(found)}"
    return found[0]


def artists(ax, gid):
    return [a for a in [*ax.lines, *ax.texts, *ax.collections, *ax.patches] if a.get_gid() == gid]


def one(ax, gid):
    found = artists(ax, gid)
    assert len(found) == 1, f"expected one {gid!r} in the {ax.get_label()!r} panel, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def collapse():
    return synthetic_collapse()


@pytest.fixture(scope="module")
def collapse_schedule():
    return Schedule(base_lr=3e-4, total_steps=20_000_000)


@pytest.fixture(scope="module")
def collapse_figure(collapse, collapse_schedule):
    return plots.run_figure(collapse, schedule=collapse_schedule, kl_threshold=THRESHOLD)


# --- the run figure -------------------------------------------------------------------


def test_panels_share_one_step_axis(collapse_figure):
    labels = [ax.get_label() for ax in collapse_figure.axes if ax.axison]
    assert labels == ["lr", "kl", "entropy", "return"]
    lr = panel(collapse_figure, "lr")
    for label in ("kl", "entropy", "return"):
        assert panel(collapse_figure, label).get_shared_x_axes().joined(lr, panel(collapse_figure, label))


def test_lr_axis_is_logarithmic(collapse_figure):
    assert panel(collapse_figure, "lr").get_yscale() == "log"


def test_schedule_line_is_the_schedule(collapse_figure, collapse_schedule):
    line = one(panel(collapse_figure, "lr"), "recommended-lr")
    xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
    np.testing.assert_allclose(ys, collapse_schedule.lr(xs), rtol=1e-12)
    assert line.get_linestyle() in ("--", "-.", ":") or line.get_dashes() is not None
    assert {s for s, _ in collapse_schedule.knots if s <= xs.max()} <= set(xs.tolist())


def test_logged_lr_is_drawn_as_logged(collapse, collapse_figure):
    xs, ys = one(panel(collapse_figure, "lr"), "logged-lr").get_data()
    series = collapse.run.metrics["lr"]
    np.testing.assert_array_equal(xs, series.index.to_numpy(dtype=float))
    np.testing.assert_array_equal(ys, series.to_numpy())


def test_start_gap_says_how_far_above_the_recommended_start(collapse_figure, collapse_schedule):
    lr = panel(collapse_figure, "lr")
    label = one(lr, "start-gap-label")
    assert label.get_text().startswith("100×")
    arrow = one(lr, "start-gap")
    assert arrow.xy[1] == pytest.approx(collapse_schedule.lr(0))
    assert arrow.xyann[1] == pytest.approx(3e-4)


def test_threshold_line_at_the_configured_value(collapse_figure):
    _, ys = one(panel(collapse_figure, "kl"), "kl-threshold").get_data()
    assert set(np.asarray(ys, dtype=float)) == {THRESHOLD}


def test_every_exceedance_is_marked_and_nothing_else(collapse, collapse_figure):
    xs, ys = one(panel(collapse_figure, "kl"), "kl-exceedances").get_data()
    kl = collapse.run.metrics["kl"]
    over = kl[kl > THRESHOLD]
    np.testing.assert_array_equal(xs, over.index.to_numpy(dtype=float))
    assert (np.asarray(ys) > THRESHOLD).all()


def test_first_crossing_is_marked_at_its_step(collapse, collapse_figure):
    kl = collapse.run.metrics["kl"]
    first = float(kl[kl > THRESHOLD].index[0])
    xs, _ = one(panel(collapse_figure, "kl"), "kl-first-crossing").get_data()
    assert set(xs) == {first}


def test_collapse_onset_line_at_the_finding_step(collapse_figure):
    kl = panel(collapse_figure, "kl")
    xs, _ = one(kl, "collapse-onset").get_data()
    assert set(xs) == {ONSET}
    assert "3.1M" in one(kl, "collapse-onset-label").get_text()
    for label in ("lr", "entropy", "return"):
        xs, _ = one(panel(collapse_figure, label), "collapse-onset-guide").get_data()
        assert set(xs) == {ONSET}


def test_kl_bands_follow_the_schedule_phases(collapse_figure, collapse_schedule):
    bands = artists(panel(collapse_figure, "kl"), "kl-band")
    visible = [p for p in collapse_schedule.phases if p.start_step < 5_000_000]
    assert len(bands) == len(visible)
    for band, phase in zip(bands, visible):
        (x0, y0), (x1, y1) = band.get_datalim(panel(collapse_figure, "kl").transData).get_points()
        # the band is drawn below the threshold only: over it is over the limit, whatever the schedule expects
        assert (y0, y1) == pytest.approx((phase.kl_band[0], min(phase.kl_band[1], THRESHOLD)))
        assert x0 == phase.start_step and x1 == min(phase.end_step, 5_000_000)


def test_entropy_has_a_trend_that_rises_with_it(collapse_figure):
    entropy = panel(collapse_figure, "entropy")
    _, trend = one(entropy, "entropy-trend").get_data()
    assert trend[-1] > trend[0]


def test_title_names_run_architecture_and_verdict(collapse_figure):
    texts = {t.get_gid(): t.get_text() for t in collapse_figure.axes[0].texts}
    assert texts["title"] == "gru_constant_lr"
    assert "GRU" in texts["subtitle"] and "config.yaml:3" in texts["subtitle"]
    assert texts["verdict"] == "COLLAPSED"


def test_steps_read_in_k_and_m(collapse_figure):
    collapse_figure.draw_without_rendering()
    bottom = panel(collapse_figure, "return")
    low, high = bottom.get_xlim()
    labels = [t.get_text() for t in bottom.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert labels == ["0", "1M", "2M", "3M", "4M", "5M"]
    formatter = bottom.xaxis.get_major_formatter()
    assert formatter(500_000, 0) == "500K" and formatter(20_000_000, 0) == "20M"


def drawn_texts(fig):
    """Every text a reader sees: titles, labels, annotations and the tick labels inside the view."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        yield from (t for t in ax.texts if t.get_visible() and t.get_text())
        if not ax.axison:
            continue
        yield from (t for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text())
        frame = ax.get_window_extent(renderer)
        for t in ax.get_xticklabels():
            box = t.get_window_extent(renderer)
            if t.get_visible() and t.get_text() and frame.x0 - 1 <= (box.x0 + box.x1) / 2 <= frame.x1 + 1:
                yield t
        for t in ax.get_yticklabels():
            box = t.get_window_extent(renderer)
            if t.get_visible() and t.get_text() and frame.y0 - 1 <= (box.y0 + box.y1) / 2 <= frame.y1 + 1:
                yield t


def clashes(fig):
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1 :] if box_a.overlaps(box_b)]


def test_no_text_overlaps_another(collapse_figure):
    assert clashes(collapse_figure) == []


@pytest.mark.parametrize(
    "build",
    [
        lambda: plots.run_figure(synthetic_healthy(), schedule=Schedule(1e-4, 20_000_000), kl_threshold=0.02),
        lambda: plots.sweep_figure([synthetic_collapse(), synthetic_healthy()], kl_threshold=0.02),
        lambda: plots.schedule_figure(Schedule(1e-4, 20_000_000)),
        lambda: plots.schedule_figure(Schedule(3e-4, 20_000_000), run=synthetic_collapse().run),
    ],
    ids=["healthy-run", "sweep", "schedule", "schedule-with-run"],
)
def test_no_text_overlaps_in_other_figures(build):
    assert clashes(build()) == []


def test_return_panel_only_when_logged():
    healthy = synthetic_healthy()
    fig = plots.run_figure(healthy, schedule=None, kl_threshold=0.02)
    assert [ax.get_label() for ax in fig.axes if ax.axison] == ["lr", "kl", "entropy"]


def test_success_rate_fills_the_outcome_panel():
    result = synthetic_healthy()
    steps = result.run.metrics["kl"].index
    result.run.metrics["success_rate"] = pd.Series(np.linspace(0.1, 0.9, len(steps)), index=steps)
    fig = plots.run_figure(result, schedule=None, kl_threshold=0.02)
    assert panel(fig, "return").get_title(loc="left").startswith("Success rate")


def test_missing_metrics_say_not_logged_and_draw_no_line():
    result = synthetic_healthy()
    del result.run.metrics["lr"], result.run.metrics["entropy"]
    schedule = Schedule(base_lr=1e-4, total_steps=20_000_000)
    fig = plots.run_figure(result, schedule=schedule, kl_threshold=0.02)
    lr = panel(fig, "lr")
    assert "not logged" in one(lr, "not-logged").get_text()
    assert artists(lr, "logged-lr") == []
    assert one(lr, "recommended-lr")  # the prescription is still shown
    assert "not logged" in one(panel(fig, "entropy"), "not-logged").get_text()


def test_healthy_run_has_no_gap_no_onset_no_exceedance():
    fig = plots.run_figure(
        synthetic_healthy(), schedule=Schedule(base_lr=1e-4, total_steps=20_000_000), kl_threshold=0.02
    )
    for gid in ("start-gap", "start-gap-label", "collapse-onset", "kl-exceedances", "kl-first-crossing"):
        assert all(artists(ax, gid) == [] for ax in fig.axes), gid


def test_non_finite_points_are_marked_where_they_were_logged():
    result = synthetic_collapse()
    kl = result.run.metrics["kl"].copy()
    kl.iloc[[10, 20]] = [np.nan, np.inf]
    result.run.metrics["kl"] = kl
    fig = plots.run_figure(result, schedule=None, kl_threshold=0.02)
    ax = panel(fig, "kl")
    xs, _ = one(ax, "kl-nonfinite").get_data()
    np.testing.assert_array_equal(xs, kl.index.to_numpy(dtype=float)[[10, 20]])
    assert "2 NaN/Inf" in one(ax, "kl-nonfinite-label").get_text()
    _, drawn = one(ax, "kl").get_data()
    assert np.isfinite(drawn).all()


def test_single_point_series_is_a_dot():
    metrics = {"lr": pd.Series([2.5e-4], index=[2048]), "kl": pd.Series([0.01], index=[2048])}
    result = RunResult(Run(name="single", path=Path("synthetic"), metrics=metrics))
    fig = plots.run_figure(result, schedule=None, kl_threshold=0.02)
    line = one(panel(fig, "kl"), "kl")
    assert line.get_marker() == "o" and list(line.get_xdata()) == [2048.0]
    fig.draw_without_rendering()


def test_huge_series_is_thinned_but_keeps_its_spikes():
    n = 100_000
    rng = np.random.default_rng(2)
    steps = np.arange(n, dtype=np.int64) * 100
    kl = np.abs(rng.normal(0.01, 0.002, n))
    kl[54_321] = 0.5  # one spike among 100k points
    kl[76_543] = 0.0
    result = RunResult(Run(name="huge", path=Path("synthetic"), metrics={"kl": pd.Series(kl, index=steps)}))
    fig = plots.run_figure(result, schedule=None, kl_threshold=0.02)
    xs, ys = one(panel(fig, "kl"), "kl").get_data()
    assert len(xs) <= plots.MAX_DRAWN_POINTS + 2
    assert ys.max() == 0.5 and ys.min() == 0.0
    assert (np.diff(xs) > 0).all()
    assert xs[0] == steps[0] and xs[-1] == steps[-1]
    # The spike is off the scale of everything else: marked on the top edge, not flattening the panel.
    assert panel(fig, "kl").get_ylim()[1] < 0.5
    assert one(panel(fig, "kl"), "off-scale").get_xdata()[0] == steps[54_321]


# --- the sweep ---------------------------------------------------------------------------


def test_sweep_colours_by_verdict_ranks_the_runs_and_numbers_the_worst_lines():
    collapsed = synthetic_collapse(name="seed7_collapsed")
    healthy = [synthetic_healthy(name=f"seed{i}") for i in range(12)]
    fig = plots.sweep_figure([*healthy, collapsed], kl_threshold=THRESHOLD)
    kl = panel(fig, "kl")
    assert one(kl, "kl:seed7_collapsed").get_color() == plots.VERDICT_COLOURS["collapsed"]
    assert one(kl, "kl:seed3").get_color() == plots.VERDICT_COLOURS["ok"]
    assert one(kl, "kl:seed3").get_linewidth() < one(kl, "kl:seed7_collapsed").get_linewidth()  # muted
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["collapsed (1)", "ok (12)"]
    # the strip lists every run, worst first, numbered; the collapsed line carries its number
    ranking = panel(fig, "ranking")
    rows = [t.get_text() for t in ranking.get_yticklabels()]
    assert rows[0] == "1  seed7_collapsed" and len(rows) == 13
    assert [t.get_text() for t in artists(kl, "rank-label")] == ["1"]
    _, ys = one(kl, "kl-threshold").get_data()
    assert set(np.asarray(ys, dtype=float)) == {THRESHOLD}
    # the marker sits on the drawn line where it went over the threshold, never under it
    marker = one(kl, "onset:seed7_collapsed")
    assert marker.get_ydata()[0] > THRESHOLD
    steps, values = one(kl, "kl:seed7_collapsed").get_data()
    assert marker.get_ydata()[0] == pytest.approx(np.interp(marker.get_xdata()[0], steps, values))
    assert panel(fig, "lr").get_yscale() == "log"


@pytest.mark.parametrize("size", [3, 20, 100])
def test_sweep_stays_legible_at_any_size(size):
    sick = [synthetic_collapse(name=f"sick{i}") for i in range(max(1, size // 4))]
    fine = [synthetic_healthy(name=f"fine{i}") for i in range(size - len(sick))]
    fig = plots.sweep_figure([*fine, *sick], kl_threshold=THRESHOLD)
    ranking = panel(fig, "ranking")
    rows = [t.get_text() for t in ranking.get_yticklabels()]
    assert len(rows) == min(size, plots.STRIP_ROWS)
    assert rows[0].split()[1].startswith("sick")  # worst first
    if size > plots.STRIP_ROWS:
        assert "not listed" in ranking.get_xlabel() and any(r.split()[1].startswith("fine") for r in rows)
    lr = panel(fig, "lr")
    fig.canvas.draw()
    assert not [t.get_text() for t in lr.yaxis.get_minorticklabels() if t.get_text()]  # no labelled minor ticks
    assert len(artists(panel(fig, "kl"), "rank-label")) <= plots.NAMED_LINES
    assert clashes(fig) == []


def test_sweep_of_runs_of_like_length_keeps_a_linear_step_axis():
    fig = plots.sweep_figure([synthetic_collapse(end=5_000_000), synthetic_healthy(end=20_000_000)], kl_threshold=THRESHOLD)
    kl = panel(fig, "kl")
    assert kl.get_xscale() == "linear" and kl.get_xlim()[0] == 0


def test_sweep_of_runs_of_very_different_lengths_gets_a_log_step_axis_that_shows_each():
    short = synthetic_collapse(end=100_000, name="short")  # 1/200 of the long run: a sliver at 0 if linear
    long = synthetic_healthy(end=20_000_000, name="long")
    fig = plots.sweep_figure([short, long], kl_threshold=THRESHOLD)
    kl, lr = panel(fig, "kl"), panel(fig, "lr")
    assert kl.get_xscale() == "log" and lr.get_xscale() == "log"  # shared
    low, high = kl.get_xlim()
    for name, result in (("short", short), ("long", long)):
        xs = np.asarray(one(kl, f"kl:{name}").get_xdata(), dtype=float)
        assert low < xs.min() and xs.max() < high
        steps, _ = result.run.metrics.points("kl")
        # on the log axis the short run spans a real part of the width, not a sliver
        assert np.log(steps.max() / steps.min()) / np.log(high / low) > 0.1
    assert "log scale" in kl.get_xlabel()


# --- the schedule ------------------------------------------------------------------------


def test_schedule_figure_draws_phases_and_their_kl_bands():
    schedule = Schedule(base_lr=1e-4, total_steps=20_000_000)
    fig = plots.schedule_figure(schedule)
    lr = panel(fig, "lr")
    assert lr.get_yscale() == "log"
    xs, ys = one(lr, "recommended-lr").get_data()
    np.testing.assert_allclose(ys, schedule.lr(np.asarray(xs, dtype=float)), rtol=1e-12)
    labels = [t.get_text() for t in artists(lr, "phase-label")]
    assert any("1e-06 → 1e-05" in text for text in labels)
    assert any("1e-04 → 1e-05" in text for text in labels)
    bands = artists(panel(fig, "kl"), "kl-band")
    assert len(bands) == len(schedule.phases)


def test_schedule_figure_with_a_run_draws_its_logged_lr(collapse):
    fig = plots.schedule_figure(Schedule(base_lr=3e-4, total_steps=20_000_000), run=collapse.run)
    lr = panel(fig, "lr")
    _, ys = one(lr, "logged-lr").get_data()
    assert set(ys) == {3e-4}
    assert one(lr, "start-gap-label").get_text().startswith("100×")


# --- files -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_format_follows_the_suffix(tmp_path, suffix, magic):
    target = tmp_path / "figures" / f"schedule{suffix}"
    written = plots.draw_schedule(Schedule(base_lr=1e-4, total_steps=20_000_000), target)
    assert written == target and target.read_bytes().startswith(magic)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left behind


def test_draw_run_and_sweep_write_files(tmp_path, collapse):
    run_png = plots.draw_run(collapse, tmp_path / "run.png")
    sweep_svg = plots.draw_sweep([collapse, synthetic_healthy()], tmp_path / "sweep.svg")
    assert run_png.read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in sweep_svg.read_bytes()[:1000]


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_same_data_same_bytes(tmp_path, suffix):
    schedule = Schedule(base_lr=1e-4, total_steps=20_000_000)
    first = plots.draw_schedule(schedule, tmp_path / f"a{suffix}").read_bytes()
    second = plots.draw_schedule(schedule, tmp_path / f"b{suffix}").read_bytes()
    assert first == second


def test_unknown_suffix_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="must end in one of"):
        plots.draw_schedule(Schedule(base_lr=1e-4, total_steps=1000), tmp_path / "schedule.jpg")
    assert list(tmp_path.iterdir()) == []


def test_importing_lrdoctor_and_its_cli_does_not_import_matplotlib():
    code = "import sys, lrdoctor, lrdoctor.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_schedule_with_a_run_shows_its_threshold_and_wastes_no_decade():
    run = synthetic_collapse().run
    fig = plots.schedule_figure(Schedule(3e-4, 20_000_000), run=run)
    kl, lr = panel(fig, "kl"), panel(fig, "lr")
    _, ys = one(kl, "kl-threshold").get_data()
    assert set(np.asarray(ys, dtype=float)) == {0.02}  # no target_kl in this run: the rule's default
    assert any(t.get_text().startswith("threshold 0.02") for t in artists(kl, "margin-label"))
    assert lr.get_ylim()[1] <= 20 * 3e-4  # room for the labels, not a decade of nothing
    assert artists(lr, "start-gap-label")  # and the start-gap label still finds its place
