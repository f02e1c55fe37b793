"""The figure and the text report say the same numbers, to the digit: both print through
``words.number`` / ``words.format_steps`` and read the windows the rules judged by."""

from pathlib import Path

import pytest

from lrdoctor.read import ingest
from lrdoctor.report import Report, figures, text
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options
from lrdoctor.rules.prescription import recommended_schedule
from lrdoctor.words import format_steps, number

COLLAPSE = Path(__file__).resolve().parents[2] / "sample_logs" / "graph_free_gru_constant_lr"


@pytest.fixture(scope="module")
def collapse():
    runs = ingest.load([COLLAPSE], use_cache=False).runs
    (result,) = engine.analyze(runs, load_options())
    return result


def labels(fig, label):
    (ax,) = [ax for ax in fig.axes if ax.get_label() == label]
    return [t.get_text() for t in ax.texts if t.get_text()]


def test_figure_annotations_are_the_reports_numbers(collapse):
    fig = figures.run_figure(collapse, schedule=recommended_schedule(collapse.run), kl_threshold=collapse.kl_threshold)
    report = " ".join(text.render(Report((collapse,))).replace("│", " ").split())  # unwrapped, without tree guides
    by_code = {f.code: f for f in collapse.findings}

    rising = by_code["LRD004"].evidence
    early, late = number(rising["early_entropy"]), number(rising["late_entropy"])
    assert f"↑ {early} → {late}" in labels(fig, "entropy")
    assert f"({early} -> {late}" in report

    returns = f"{number(rising['outcome_early'])} → {number(rising['outcome_late'])}"
    assert any(returns in label for label in labels(fig, "return"))
    assert f"({returns.replace('→', '->')})" in report

    kl = by_code["LRD001"].evidence
    assert f"peak {number(kl['peak'])}\n(+{int(kl['percent_over'])}%)" in labels(fig, "kl")
    assert f"peak {number(kl['peak'])} at {format_steps(kl['peak_step'])} ({int(kl['percent_over'])}% over)" in report
    assert f"first > {number(kl['threshold'])} at {format_steps(kl['first_step_over'])}" in labels(fig, "kl")
    assert f"from step {format_steps(kl['first_step_over'])}" in report

    onset = by_code["LRD006"].step
    assert f"collapse onset {format_steps(onset)}" in labels(fig, "kl")
    assert f"LRD006 policy-collapse @ {format_steps(onset)}" in report


@pytest.mark.parametrize("run", ["sb3_recurrentppo_cartpole", "graph_free_gru_constant_lr"])
def test_no_label_inside_the_kl_panel_covers_a_kl_point(run):
    """On the real CartPole run a label box once hid the KL under it."""
    runs = ingest.load([COLLAPSE.parent / run], use_cache=False).runs
    (result,) = engine.analyze(runs, load_options())
    fig = figures.run_figure(result, schedule=recommended_schedule(result.run), kl_threshold=result.kl_threshold)
    fig.canvas.draw()
    (ax,) = [ax for ax in fig.axes if ax.get_label() == "kl"]
    (kl,) = [line for line in ax.lines if line.get_gid() == "kl"]
    points = kl.get_transform().transform(kl.get_xydata())
    panel = ax.get_window_extent()
    for label in ax.texts:
        box = label.get_window_extent()
        if label.get_text() and panel.x0 <= box.x0 and box.x1 <= panel.x1:  # inside, not a margin label
            covered = [p for p in points if box.contains(*p)]
            assert not covered, f"{label.get_text()!r} covers KL points"
