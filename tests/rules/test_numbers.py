"""The rules' numeric core (rules/common.py ``MetricNumbers``): computed once per run and metric,
and its rolling medians are pandas' to the bit, which the rules were written against."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdoctor.model import Run
from lrdoctor.rules.common import MetricNumbers, median, numbers, percentiles, row_medians


def pandas_centred(values, window):
    return pd.Series(values).rolling(window, center=True, min_periods=max(1, window // 2 + 1)).median().to_numpy()


def _medians_cases():
    rng = np.random.default_rng(107)
    for n in (1, 2, 3, 4, 7, 10, 101, 1000, 4097, 19900):  # past 4,096 values a median partitions
        yield rng.normal(size=n)
        yield rng.integers(-5, 5, size=n).astype(np.float64)  # ties
        yield rng.integers(0, 1 << 62, size=n)  # ints past 2**53: np.median averages them as floats
    yield np.array([1.0, np.nan, 3.0])
    yield np.array([np.inf, -np.inf])
    yield np.array([np.inf, 1.0, 2.0])
    yield np.array([-0.0, 0.0])
    yield np.concatenate([rng.normal(size=5000), [np.nan]])
    yield np.concatenate([rng.normal(size=5001), [np.inf, -np.inf, np.inf]])


@pytest.mark.parametrize("values", list(_medians_cases()), ids=lambda v: f"{v.dtype}x{len(v)}")
def test_median_is_np_median_bit_for_bit(values):
    with np.errstate(invalid="ignore"):  # inf + -inf: both say so, and both give NaN
        expected = np.median(values)
        assert np.array_equal(np.float64(median(values)), expected, equal_nan=True)
        assert np.signbit(median(values)) == np.signbit(expected)
        rows = np.stack([values, values[::-1], np.roll(values, 1)])
        np.testing.assert_array_equal(row_medians(rows), np.median(rows, axis=1))


@pytest.mark.parametrize("values", [v for v in _medians_cases() if v.dtype == np.float64], ids=len)
def test_percentiles_are_np_percentile_bit_for_bit(values):
    chosen = (0, 1, 10, 25, 33.3, 50, 66.7, 90, 99, 100)
    with np.errstate(invalid="ignore"):
        expected = np.percentile(values, chosen)
    assert np.array_equal(np.array(percentiles(values, *chosen)), expected, equal_nan=True)


def test_the_median_of_nothing_is_nan():
    assert np.isnan(median(np.array([])))
    assert np.isnan(row_medians(np.empty((3, 0)))).all()


@pytest.mark.parametrize("n", [1, 2, 5, 8, 61, 400])
@pytest.mark.parametrize("window", [1, 2, 3, 4, 10, 21, 500])
def test_rolling_medians_are_pandas_bit_for_bit(n, window):
    rng = np.random.default_rng(100 + n)
    values = rng.normal(size=n).astype(np.float32).astype(np.float64)
    core = MetricNumbers(np.arange(n) * 2048, values)
    np.testing.assert_array_equal(core.smooth(window), pandas_centred(values, window))
    trailing = pd.Series(values).rolling(window, min_periods=window).median().to_numpy()
    np.testing.assert_array_equal(core.trailing_median(window), trailing)


def textbook_theil_sen(steps, values, max_points=200):
    """The median of (y[j] - y[i]) / (x[j] - x[i]) over every pair i < j of evenly picked points."""
    n = len(values)
    picks = sorted({int(p) for p in np.linspace(0, n - 1, min(n, max_points))})
    x, y = np.asarray(steps, float)[picks], np.asarray(values, float)[picks]
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x)) for j in range(i + 1, len(x)) if x[j] != x[i]]
    return float(np.median(slopes)) if slopes else 0.0


@pytest.mark.parametrize("n", [2, 3, 7, 199, 200, 201, 1250])
@pytest.mark.parametrize("steps", ["distinct", "repeated", "one step"])
def test_theil_sen_slope_is_the_textbook_median_bit_for_bit(n, steps):
    rng = np.random.default_rng(200 + n)
    values = rng.normal(size=n).cumsum() * 1e-3
    axis = {"distinct": np.arange(n) * 2048, "repeated": np.arange(n) // 3 * 100, "one step": np.zeros(n, int)}[steps]
    assert MetricNumbers(axis, values).theil_sen_slope() == textbook_theil_sen(axis, values)


def test_points_are_put_in_step_order_and_only_finite_ones_kept():
    core = MetricNumbers(np.array([30, 10, 20, 40]), np.array([3.0, np.nan, 2.0, np.inf]))
    assert core.steps.tolist() == [20, 30] and core.values.tolist() == [2.0, 3.0]


def test_a_sustained_excess_needs_a_window_whose_median_is_over():
    values = np.array([0.01] * 10 + [0.05] + [0.01] * 5 + [0.03] * 6 + [0.01] * 5)
    core = MetricNumbers(np.arange(len(values)) * 10, values)
    assert core.first_sustained_step(0.02, 5) == 160  # the lone spike at 100 is not a stretch
    assert core.first_sustained_step(0.06, 5) is None


def test_computed_once_per_run_and_metric_and_forgotten_when_a_metric_changes():
    steps = pd.Index(np.arange(50) * 100, name="step")
    run = Run("r", Path("r"), metrics={"kl": pd.Series(np.linspace(0, 1, 50), index=steps)})
    core = numbers(run, "kl")
    assert numbers(run, "kl") is core
    assert core.smooth(5) is core.smooth(5)
    run.metrics["kl"] = pd.Series(np.linspace(1, 2, 50), index=steps)
    assert numbers(run, "kl") is not core and numbers(run, "kl").values[0] == 1.0
    assert len(numbers(run, "entropy")) == 0  # not logged: empty, never an error
