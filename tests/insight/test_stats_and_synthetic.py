"""Fisher's exact test against known values, the permutation test, and the insight on the
SYNTHETIC sweeps of tests/synthetic_sweeps.py (3, 20, 100 runs; one planted rule)."""

import math
from pathlib import Path

import numpy as np
import pytest
from synthetic_sweeps import sweep

from lrdoctor.insight import stats
from lrdoctor.insight.sweep import sweep_insight
from lrdoctor.model import Run, RunResult, Sourced
from lrdoctor.report.insight import lines


@pytest.mark.parametrize(
    "table, expected",
    [
        ((7, 10, 2, 10), 0.0697785),  # R: fisher.test(matrix(c(7,3,2,8), 2))$p.value
        ((3, 4, 1, 4), 0.4857143),
        ((6, 6, 0, 12), 1 / math.comb(18, 6)),
        ((0, 5, 0, 5), 1.0),
    ],
)
def test_fisher_exact(table, expected):
    assert stats.fisher_exact(*table) == pytest.approx(expected, rel=1e-6)


def test_best_possible_p_says_when_a_sweep_is_too_small():
    assert stats.best_possible(4, 2, 2) == pytest.approx(1 / 3)  # 4 runs can never show anything
    assert stats.best_possible(18, 6, 6) < 1e-4


def test_the_search_over_splits_is_paid_for():
    sick = np.array([0] * 12 + [1] * 6, dtype=bool)
    values = np.repeat([1, 2, 3], 6)
    p, best, how = stats.min_p_permutation(np.array([values >= 2, values >= 3]), sick)
    assert best == 1 and "exact permutation" in how
    assert 1 / math.comb(18, 6) < p < 5 * 1 / math.comb(18, 6)  # above the single split's p


def test_holm():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_synthetic_100_runs_rank_the_planted_setting_and_not_the_flag():
    insight = sweep_insight(sweep(100))
    assert insight.separating[0].setting == "learning_rate"
    clip = next(s for s in insight.separations if s.setting == "clip_range")
    assert clip.status == "does not separate"
    assert "seed" not in {s.setting for s in insight.separations}
    assert not insight.separating[0].values  # 100 distinct values: the split alone is shown
    assert insight.separating[0].inside.sick == insight.sick  # every collapse is above the split


def test_the_interaction_and_the_healthy_runs_are_found():
    insight = sweep_insight(sweep(100))
    (within,) = insight.within  # planted: an LSTM collapses from 3e-3, an MLP only from 3e-2
    assert within.setting == "architecture" and within.within.startswith("learning_rate >= ")
    assert (within.inside.label, within.inside.sick, within.inside.runs) == ("= lstm", 28, 28)
    assert insight.combined.group.sick == 0 and insight.combined.group.runs == 20


def test_synthetic_3_runs_are_too_few_to_say():
    insight = sweep_insight(sweep(3))
    assert insight.status == "too few runs" and not insight.separating
    assert "too few runs to say" in lines(insight)[0]


def test_the_figure_draws_one_dot_per_run(tmp_path):
    from lrdoctor.report import figures

    insight = sweep_insight(sweep(100))
    fig = figures.insight_figure(insight, insight.separations[:3])
    dots = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "insight-runs"]
    assert [len(d.get_offsets()) for d in dots] == [100, 100, 100]
    assert figures.draw_insight(insight, tmp_path / "insight.png").stat().st_size > 20_000


def test_a_strangers_setting_name_is_escaped():
    results = []
    for index in range(8):
        evil = {"\x1b[31mlr\n::error::x": Sourced(index % 2, "config.yaml:1 x")}
        run = Run(name=f"r{index}", path=Path(f"r{index}"), settings=evil)
        results.append(RunResult(run))
    text = "\n".join(lines(sweep_insight(results)))
    assert "\x1b" not in text and "\n::error" not in text


def test_diff_of_runs_without_settings_does_not_claim_they_match():
    from lrdoctor.insight.diff import diff_runs
    from lrdoctor.report.diff import summary

    a, b = (sweep(3)[i].run for i in (0, 1))
    bare = [Run(name=run.name, path=run.path, metrics=run.metrics) for run in (a, b)]
    assert summary(diff_runs(*bare)).startswith("no settings read for either run")
    assert summary(diff_runs(a, b)) == "2 settings differ (clip_range, learning_rate); they do not part beyond their noise"
