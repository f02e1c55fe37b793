"""LRD007 non-finite on synthetic runs (see synthetic_runs.py)."""

import numpy as np
from synthetic_runs import STEP, healthy_metrics, make_run

from lrdoctor.model import Severity


def with_bad_values(metric: str, positions, value) -> dict:
    metrics = healthy_metrics()
    series = metrics[metric].copy()
    series.iloc[list(positions)] = value
    return {**metrics, metric: series}


def test_nan_from_a_step(findings):
    [finding] = findings(make_run(with_bad_values("value_loss", range(200, 214), np.nan)), "LRD007")
    assert finding.severity is Severity.error
    assert finding.evidence == {"metric": "value_loss", "first_step": 201 * STEP, "count": 14, "of": 285,
                                "kinds": ["NaN"]}
    assert finding.step == 201 * STEP and "train/value_loss" in finding.message


def test_one_finding_per_metric_with_kinds(findings):
    metrics = with_bad_values("kl", [5], np.inf)
    metrics["kl"].iloc[7] = -np.inf
    metrics["entropy"] = metrics["entropy"].copy()
    metrics["entropy"].iloc[9] = np.nan
    found = findings(make_run(metrics), "LRD007")
    assert [f.evidence["metric"] for f in found] == ["kl", "entropy"]
    assert found[0].evidence["kinds"] == ["+Inf", "-Inf"]


def test_min_count_override(findings):
    run = make_run(with_bad_values("kl", [0], np.nan))
    assert len(findings(run, "LRD007")) == 1
    assert findings(run, "LRD007", rule_settings={"non-finite.min_count": "2"}) == []


def test_other_rules_read_only_the_finite_points(findings):
    run = make_run(with_bad_values("kl", range(0, 285, 7), np.nan))
    assert findings(run, "LRD001") == [] and findings(run, "LRD006") == []


def test_disabled(findings):
    assert findings(make_run(with_bad_values("kl", [3], np.nan)), "LRD007", ignore=["LRD007"]) == []


def test_a_run_without_metrics_is_not_checked(findings):
    run = make_run({})
    assert findings(run, "LRD007") == []
    [nothing] = findings(run, "LRD010")
    assert nothing.message.startswith("nothing could be checked")


def test_finite_noisy_data_does_not_trigger(findings):
    rng = np.random.RandomState(0)
    metrics = {name: series * (1 + rng.normal(0, 0.5, len(series))) for name, series in healthy_metrics().items()}
    metrics["lr"] = metrics["lr"].abs()  # noise of 50% takes some LRs below zero, which is LRD007 now
    assert findings(make_run(metrics), "LRD007") == []


def test_a_negative_learning_rate(findings):
    """A linear decay computed past its end goes below zero: the optimizer then climbs the loss."""
    metrics = with_bad_values("lr", range(270, 285), -1e-6)
    [finding] = findings(make_run(metrics), "LRD007")
    assert finding.severity is Severity.error
    assert finding.evidence == {"metric": "lr", "first_step": 271 * STEP, "count": 15, "of": 285, "lowest": -1e-6}
    assert finding.step == 271 * STEP and " is negative from step " in finding.message


def test_a_learning_rate_that_decays_to_zero_is_not_flagged(findings):
    assert findings(make_run(with_bad_values("lr", range(280, 285), 0.0)), "LRD007") == []


def test_a_nan_learning_rate_is_non_finite_not_negative(findings):
    [finding] = findings(make_run(with_bad_values("lr", [9], np.nan)), "LRD007")
    assert finding.evidence["kinds"] == ["NaN"]
