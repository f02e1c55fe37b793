"""LRD005 entropy-collapse on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import healthy_metrics, make_run, series

from lrdoctor.model import Severity

x = np.arange(285)


def collapsing_entropy(seed: int = 0):
    # Synthetic: 0.69 (two actions) falling exponentially to ~0.02 by a third of the run.
    rng = np.random.RandomState(seed)
    return series(0.69 * np.exp(-x / 25) + 0.01 + rng.normal(0, 0.005, 285).clip(-0.009))


def test_early_collapse(findings):
    [finding] = findings(make_run({**healthy_metrics(), "entropy": collapsing_entropy()}), "LRD005")
    assert finding.severity is Severity.warning
    assert finding.evidence["initial_entropy"] == pytest.approx(0.6, abs=0.1)
    assert finding.evidence["fraction_of_initial"] <= 0.1
    assert finding.evidence["run_fraction"] < 0.3


def test_floor_and_within_overrides(findings):
    run = make_run({**healthy_metrics(), "entropy": collapsing_entropy()})
    assert findings(run, "LRD005", rule_settings={"entropy-collapse.floor": "0.01"}) == []
    assert findings(run, "LRD005", rule_settings={"entropy-collapse.within": "0.1"}) == []


def test_gradual_convergence_late_is_not_a_collapse(findings):
    late = series(0.69 * np.exp(-np.maximum(x - 200, 0) / 10) + 0.01)
    assert findings(make_run({**healthy_metrics(), "entropy": late}), "LRD005") == []


def test_negative_differential_entropy_is_not_judged(findings):
    continuous = series(-0.5 - x / 100)
    assert findings(make_run({**healthy_metrics(), "entropy": continuous}), "LRD005") == []


def test_disabled(findings):
    run = make_run({**healthy_metrics(), "entropy": collapsing_entropy()})
    assert findings(run, "LRD005", ignore=["entropy-collapse"]) == []


def test_missing_entropy(findings):
    metrics = healthy_metrics()
    del metrics["entropy"]
    run = make_run(metrics)
    assert findings(run, "LRD005") == []
    assert any("LRD005" in f.evidence["rules"] for f in findings(run, "LRD010"))


@pytest.mark.parametrize("seed", range(5))
def test_noisy_entropy_with_dips_does_not_trigger(findings, seed):
    # Synthetic: healthy slow decline with noise and a few near-zero dips.
    rng = np.random.RandomState(seed)
    entropy = 0.69 - 0.3 * x / 284 + rng.normal(0, 0.05, 285)
    entropy[rng.choice(np.arange(20, 140), 5, replace=False)] = 0.01
    assert findings(make_run({**healthy_metrics(seed), "entropy": series(entropy)}), "LRD005") == []
