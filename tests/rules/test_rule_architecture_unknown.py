import numpy as np
from synthetic_runs import GRU, MLP, UNKNOWN, healthy_metrics, make_run, series

from lrdoctor.model import LRShape, Severity


def test_a_constant_lr_on_an_unknown_architecture_is_info_under_its_own_code(findings):
    [finding] = findings(make_run(healthy_metrics(), architecture=UNKNOWN), "LRD014")
    assert finding.severity is Severity.info and finding.evidence["would_be"] == "LRD002"
    assert "architecture is unknown" in finding.message and "--arch" in finding.message


def test_silent_when_the_architecture_is_known(findings):
    assert findings(make_run(healthy_metrics(), architecture=GRU), "LRD014") == []
    assert findings(make_run(healthy_metrics(), architecture=MLP), "LRD014") == []


def test_a_schedule_without_warmup_follows_lrd003s_near_peak(findings):
    metrics = {**healthy_metrics(), "lr": series(np.linspace(1.2e-4, 3e-4, 285))}
    shape = LRShape(kind="cosine", peak_lr=3e-4, initial_lr=1.2e-4, final_lr=0.0)  # starts at 40% of its peak
    assert findings(make_run(metrics, lr_shape=shape, architecture=UNKNOWN), "LRD014") == []
    [finding] = findings(make_run(metrics, lr_shape=shape, architecture=UNKNOWN), "LRD014",
                         rule_settings={"no-warmup-recurrent.near_peak": "0.3"})
    assert finding.evidence["would_be"] == "LRD003"
