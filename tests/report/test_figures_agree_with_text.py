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
    assert f" first > {number(kl['threshold'])} at {format_steps(kl['first_step_over'])}" in labels(fig, "kl")
    assert f"from step {format_steps(kl['first_step_over'])}" in report

    onset = by_code["LRD006"].step
    assert f"collapse onset {format_steps(onset)}" in labels(fig, "kl")
    assert f"LRD006 policy-collapse @ {format_steps(onset)}" in report
