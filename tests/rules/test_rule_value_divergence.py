"""LRD009 value-divergence on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import STEP, healthy_metrics, make_run, series

from lrdoctor.model import Severity

x = np.arange(285)


def blowing_up(seed: int = 0) -> dict:
    # Synthetic: value loss 0.05 growing 100x after update 150; explained variance 0.7 falling to -0.5.
    rng = np.random.RandomState(seed)
    loss = 0.05 * np.exp(np.maximum(x - 150, 0) / 29) * (1 + rng.normal(0, 0.1, 285))
    ev = np.where(x < 150, 0.7, 0.7 - 1.2 * np.minimum((x - 150) / 60, 1)) + rng.normal(0, 0.05, 285)
    return {**healthy_metrics(seed), "value_loss": series(loss), "explained_variance": series(ev)}


def test_both_signals(findings):
    found = findings(make_run(blowing_up()), "LRD009")
    by_signal = {f.evidence["signal"]: f for f in found}
    assert set(by_signal) == {"value_loss_growth", "explained_variance_fall"}
    assert all(f.severity is Severity.warning for f in found)
    assert by_signal["value_loss_growth"].evidence["growth"] > 10
    assert 170 * STEP < by_signal["explained_variance_fall"].step < 220 * STEP


def test_growth_override(findings):
    found = findings(make_run(blowing_up()), "LRD009", rule_settings={"value-divergence.growth": "1000"})
    assert [f.evidence["signal"] for f in found] == ["explained_variance_fall"]


def test_value_loss_growing_with_a_good_critic_is_scale(findings):
    metrics = blowing_up()
    metrics["explained_variance"] = series(np.full(285, 0.8))
    assert findings(make_run(metrics), "LRD009") == []


def test_disabled(findings):
    assert findings(make_run(blowing_up()), "LRD009", ignore=["value-divergence"]) == []


def test_either_metric_is_enough_and_both_missing_is_reported(findings):
    metrics = blowing_up()
    del metrics["explained_variance"]
    assert [f.evidence["signal"] for f in findings(make_run(metrics), "LRD009")] == ["value_loss_growth"]
    del metrics["value_loss"]
    run = make_run(metrics)
    assert findings(run, "LRD009") == []
    [missing] = findings(run, "LRD010")
    assert missing.evidence == {"metric": "value_loss or explained_variance", "rules": ["LRD009"]}


@pytest.mark.parametrize("seed", range(5))
def test_noisy_critic_around_zero_does_not_trigger(findings, seed):
    # Synthetic: explained variance that never got good, noisy around 0; value loss noisy and flat.
    rng = np.random.RandomState(seed)
    metrics = {**healthy_metrics(seed), "explained_variance": series(rng.normal(0.0, 0.2, 285)),
               "value_loss": series(np.abs(rng.standard_cauchy(285)) * 0.05)}
    assert findings(make_run(metrics), "LRD009") == []
