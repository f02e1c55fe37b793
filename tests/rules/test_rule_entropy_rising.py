"""LRD004 entropy-rising on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import collapsing_metrics, healthy_metrics, make_run, series

from lrdoctor.model import Severity


def test_entropy_rising_while_return_falls(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD004")
    assert finding.severity is Severity.warning
    assert finding.evidence["early_entropy"] < finding.evidence["late_entropy"]
    assert 0.15 < finding.evidence["rise"] < 0.25  # 1.44 -> 1.72 in the synthetic run
    assert finding.evidence["outcome_metric"] == "episode_return"
    assert 1.0e6 < finding.step < 4.0e6
    assert "train/entropy_loss" in finding.message


def test_rising_entropy_with_an_improving_return_is_exploration(findings):
    metrics = collapsing_metrics()
    rising_return = series(np.linspace(0.1, 0.9, 285))
    assert findings(make_run({**metrics, "episode_return": rising_return}), "LRD004") == []


def test_without_return_it_still_flags_and_says_so(findings):
    metrics = collapsing_metrics()
    del metrics["episode_return"]
    [finding] = findings(make_run(metrics), "LRD004")
    assert "neither return nor success rate was logged" in finding.message
    assert finding.evidence["outcome_metric"] is None


def test_min_rise_override(findings):
    assert findings(make_run(collapsing_metrics()), "LRD004", rule_settings={"entropy-rising.min_rise": "0.3"}) == []


def test_disabled(findings):
    assert findings(make_run(collapsing_metrics()), "LRD004", select=["LRD001", "LRD006"]) == []


def test_missing_entropy(findings):
    metrics = collapsing_metrics()
    del metrics["entropy"]
    run = make_run(metrics)
    assert findings(run, "LRD004") == []
    [missing] = [f for f in findings(run, "LRD010") if f.evidence["metric"] == "entropy"]
    assert missing.evidence["rules"] == ["LRD004", "LRD005"]


@pytest.mark.parametrize("seed", range(5))
def test_flat_noisy_entropy_with_spikes_does_not_trigger(findings, seed):
    # Synthetic: flat entropy, heavy noise, a few large upward spikes late in the run.
    rng = np.random.RandomState(seed)
    entropy = 1.2 + rng.normal(0, 0.08, 285)
    entropy[rng.choice(np.arange(200, 285), 6, replace=False)] += 0.8
    flat_return = series(0.5 + rng.normal(0, 0.05, 285))
    run = make_run({**healthy_metrics(seed), "entropy": series(entropy), "episode_return": flat_return})
    assert findings(run, "LRD004") == []
