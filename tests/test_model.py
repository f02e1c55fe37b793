"""model.Metrics: arrays until a Series is asked for, and then the same Series every time."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdoctor.model import Metrics, Run

STEPS = np.array([2048, 4096, 6144], dtype=np.int64)
KL = np.array([0.01, np.nan, 0.03])


def test_a_metric_from_points_becomes_the_series_the_rules_expect():
    metrics = Metrics.from_points({"kl": (STEPS.astype(np.int32), KL.astype(np.float32))})
    steps, values = metrics.points("kl")
    assert steps.dtype == np.int64 and values.dtype == np.float64  # normalised on the way in
    series = metrics["kl"]
    assert series.name == "kl" and series.index.name == "step" and series.index.dtype == np.int64
    assert series.dtype == np.float64 and series.index.tolist() == STEPS.tolist()
    np.testing.assert_array_equal(series.to_numpy(), values)  # NaN kept: it is data


def test_the_series_is_built_once_so_edits_to_it_stay():
    metrics = Metrics.from_points({"kl": (STEPS, KL.copy())})
    metrics["kl"].iloc[0] = np.inf
    assert metrics["kl"] is metrics["kl"]
    assert metrics.points("kl")[1][0] == np.inf


def test_points_of_a_metric_given_as_a_series():
    series = pd.Series(KL, index=pd.Index(STEPS, name="step"), name="kl")
    steps, values = Metrics({"kl": series}).points("kl")
    assert steps.tolist() == STEPS.tolist()
    np.testing.assert_array_equal(values, KL)


def test_a_metric_not_logged_has_no_points_and_no_series():
    metrics = Metrics.from_points({"kl": (STEPS, KL)})
    assert metrics.points("entropy") is None and "entropy" not in metrics
    with pytest.raises(KeyError):
        metrics["entropy"]


def test_it_is_a_mapping_in_insertion_order():
    metrics = Metrics.from_points({"lr": (STEPS, np.full(3, 3e-4)), "kl": (STEPS, KL)})
    metrics["entropy"] = pd.Series([1.0, 1.1, 1.2], index=STEPS)
    del metrics["lr"]
    assert list(metrics) == ["kl", "entropy"] and len(metrics) == 2
    assert repr(metrics) == "Metrics(kl: 3 points, entropy: 3 points)"


def test_a_run_wraps_a_plain_dict_and_finds_its_last_step_without_pandas():
    run = Run(name="r", path=Path("r"), metrics={"kl": pd.Series(KL, index=STEPS)})
    assert isinstance(run.metrics, Metrics)
    cached = Run(name="r", path=Path("r"), metrics=Metrics.from_points({"kl": (STEPS, KL), "lr": (STEPS[:1], KL[:1])}))
    assert cached.last_step == 6144 and Run(name="e", path=Path("e")).last_step is None


def test_metrics_cross_process_boundaries_whole():
    """Runs come back from reader processes pickled."""
    metrics = Metrics.from_points({"kl": (STEPS, KL)})
    metrics["lr"] = pd.Series([3e-4] * 3, index=pd.Index(STEPS, name="step"), name="lr")
    copy = pickle.loads(pickle.dumps(metrics))
    assert list(copy) == ["kl", "lr"]
    np.testing.assert_array_equal(copy.points("kl")[1], KL)
    pd.testing.assert_series_equal(copy["lr"], metrics["lr"])
