"""LRD003 no-warmup-recurrent on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import MLP, UNKNOWN, healthy_metrics, make_run, series

from lrdoctor.model import LRShape, Severity

DECAY = LRShape(kind="linear-decay", peak_lr=3e-4, initial_lr=3e-4, final_lr=3e-5, warmup_fraction=0.0)
WARMUP = LRShape(kind="warmup-decay", peak_lr=1e-4, initial_lr=1e-6, final_lr=1e-5, warmup_fraction=0.25)


def decaying() -> dict:
    return {**healthy_metrics(), "lr": series(np.linspace(3e-4, 3e-5, 285))}


def test_decay_without_warmup_on_a_gru_is_a_warning_with_the_fix(findings):
    [finding] = findings(make_run(decaying(), lr_shape=DECAY), "LRD003")
    assert finding.severity is Severity.warning
    assert "linear-decay" in finding.message and "GRU" in finding.message
    assert finding.evidence["initial_over_peak"] == 1.0
    assert finding.fix["schedule"]["phases"][0]["start_lr"] == pytest.approx(3e-6)


def test_warmup_schedule_constant_lr_and_mlp_are_not_flagged(findings):
    assert findings(make_run(decaying(), lr_shape=WARMUP), "LRD003") == []
    assert findings(make_run(healthy_metrics()), "LRD003") == []  # constant: LRD002's business
    assert findings(make_run(decaying(), lr_shape=DECAY, architecture=MLP), "LRD003") == []
    # an unknown architecture never yields no-warmup-recurrent: LRD014 says it (issue 15)
    assert findings(make_run(decaying(), lr_shape=DECAY, architecture=UNKNOWN), "LRD003") == []
    [unknown] = findings(make_run(decaying(), lr_shape=DECAY, architecture=UNKNOWN), "LRD014")
    assert unknown.severity is Severity.info and "LRD003" in unknown.message


def test_near_peak_override(findings):
    # Synthetic: a short warmup that starts at 40% of the peak.
    shape = LRShape(kind="cosine", peak_lr=3e-4, initial_lr=1.2e-4, final_lr=0.0)
    assert findings(make_run(decaying(), lr_shape=shape), "LRD003") == []
    [finding] = findings(make_run(decaying(), lr_shape=shape), "LRD003", rule_settings={"LRD003.near_peak": "0.3"})
    assert finding.evidence["near_peak"] == 0.3


def test_disabled(findings):
    assert findings(make_run(decaying(), lr_shape=DECAY), "LRD003", ignore=["no-warmup-recurrent"]) == []


def test_missing_lr(findings):
    metrics = decaying()
    del metrics["lr"]
    run = make_run(metrics, lr_shape=LRShape(kind="not-logged"))
    assert findings(run, "LRD003") == []
    assert any("LRD003" in f.evidence["rules"] for f in findings(run, "LRD010"))


def test_noisy_warmup_that_starts_low_is_not_flagged(findings):
    # Synthetic: jitter on a warmup; the first logged LR is a tenth of the peak.
    rng = np.random.RandomState(0)
    lr = series(np.interp(np.arange(285), [0, 70, 284], [3e-5, 3e-4, 3e-5]) * (1 + rng.normal(0, 0.02, 285)))
    shape = LRShape(kind="unknown", peak_lr=3.1e-4, initial_lr=3e-5, final_lr=3e-5)
    assert findings(make_run({**healthy_metrics(), "lr": lr}, lr_shape=shape), "LRD003") == []
