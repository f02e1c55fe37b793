"""LRD008 clip-fraction-high on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import STEP, healthy_metrics, make_run, series

from lrdoctor.model import Severity


def high_clip(seed: int = 0):
    # Synthetic: 0.15 until update 150, then around 0.4.
    rng = np.random.RandomState(seed)
    values = np.where(np.arange(285) < 150, 0.15, 0.4) + rng.normal(0, 0.03, 285)
    return series(values)


def test_sustained_high_clip_fraction(findings):
    [finding] = findings(make_run({**healthy_metrics(), "clip_fraction": high_clip()}), "LRD008")
    assert finding.severity is Severity.warning
    assert 150 * STEP <= finding.step <= 160 * STEP
    assert 0.4 < finding.evidence["share_over"] < 0.5
    assert finding.evidence["threshold"] == 0.3


def test_threshold_override(findings):
    run = make_run({**healthy_metrics(), "clip_fraction": high_clip()})
    assert findings(run, "LRD008", rule_settings={"clip-fraction-high.threshold": "0.5"}) == []


def test_disabled(findings):
    run = make_run({**healthy_metrics(), "clip_fraction": high_clip()})
    assert findings(run, "LRD008", select=["LRD001"]) == []


def test_missing_clip_fraction(findings):
    metrics = healthy_metrics()
    del metrics["clip_fraction"]
    run = make_run(metrics)
    assert findings(run, "LRD008") == []
    assert [f.evidence["rules"] for f in findings(run, "LRD010")] == [["LRD008"]]


@pytest.mark.parametrize("seed", range(5))
def test_isolated_spikes_do_not_trigger(findings, seed):
    rng = np.random.RandomState(seed)
    values = 0.15 + rng.normal(0, 0.04, 285)
    values[rng.choice(285, 20, replace=False)] = 0.6
    assert findings(make_run({**healthy_metrics(seed), "clip_fraction": series(values)}), "LRD008") == []
