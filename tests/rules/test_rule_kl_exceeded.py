"""LRD001 kl-exceeded on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import MLP, collapsing_metrics, healthy_metrics, make_run, series

from lrdoctor.model import RunConfig, Severity, Sourced


def test_sustained_excess_is_an_error_with_the_originating_numbers(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD001")
    assert finding.severity is Severity.error
    evidence = finding.evidence
    assert evidence["threshold"] == 0.02 and evidence["threshold_source"] == "default"
    assert evidence["peak"] == 0.0334 and evidence["percent_over"] == 67
    assert 3.4e6 < evidence["peak_step"] < 3.7e6
    assert evidence["sustained"] is True and evidence["pattern"] == "sustained"
    assert 1.8e6 < evidence["first_step_over"] < 2.0e6
    assert 0.5 < evidence["share_over"] < 0.7
    assert "k3" in finding.message and "train/approx_kl" in finding.message
    assert finding.step == evidence["first_step_over"]


def test_fix_attached_only_when_the_lr_is_the_cause(findings):
    [on_gru] = findings(make_run(collapsing_metrics()), "LRD001")
    [on_mlp] = findings(make_run(collapsing_metrics(), architecture=MLP), "LRD001")
    assert on_gru.fix["schedule"]["base_lr"] == pytest.approx(3e-4)
    assert on_mlp.fix is None


def test_single_spike_is_info_even_a_big_one(findings):
    """Severity is judged on the robust peak (issue 15): one reading, however high, is a spike
    to tell, and with the rolling median under the threshold the KL did not really exceed it."""
    metrics = healthy_metrics()
    kl = metrics["kl"].copy()
    kl.iloc[100] = 0.025
    [small] = findings(make_run({**metrics, "kl": kl}), "LRD001")
    assert small.severity is Severity.info and small.evidence["pattern"] == "spike"
    assert small.evidence["share_over"] == pytest.approx(1 / len(kl), abs=1e-4)
    kl.iloc[100] = 17.7  # TorchRL's k1 KL once read this among 0.02-0.07
    [big] = findings(make_run({**metrics, "kl": kl}), "LRD001")
    assert big.severity is Severity.info and big.evidence["pattern"] == "spike"
    assert big.evidence["peak"] == pytest.approx(17.7) and big.evidence["robust_peak"] < 0.02
    assert "a single outlier" in big.message and "under the threshold" in big.message


def test_a_robust_peak_far_over_is_an_error(findings):
    metrics = healthy_metrics()
    kl = metrics["kl"].copy()
    kl.iloc[100:110] = 0.031  # ten updates at >= 1.5 x 0.02: the rolling median is there too
    [big] = findings(make_run({**metrics, "kl": kl}), "LRD001")
    assert big.severity is Severity.error and big.evidence["robust_peak"] == pytest.approx(0.031)
    assert "outlier" not in big.message


def test_threshold_override_from_the_command_line(findings):
    run = make_run(collapsing_metrics())
    assert findings(run, "LRD001", rule_settings={"kl-exceeded.threshold": "0.04"}) == []
    [finding] = findings(run, "LRD001", rule_settings={"LRD001.threshold": "0.033"})
    assert finding.evidence["threshold"] == 0.033 and finding.evidence["threshold_source"] == "configured threshold"
    # Only the 0.0334 peak passes 0.033: a spike whose rolling median stays under the
    # threshold, so info (severity judged on the robust peak, issue 15).
    assert finding.evidence["pattern"] == "spike" and finding.severity is Severity.info


def test_threshold_from_the_runs_target_kl_unless_told_otherwise(findings):
    config = RunConfig(target_kl=Sourced(0.04, "config.yaml:7 target_kl"))
    run = make_run(collapsing_metrics(), config=config)
    assert findings(run, "LRD001") == []
    [finding] = findings(run, "LRD001", rule_settings={"kl-exceeded.use_target_kl": "false"})
    assert finding.evidence["threshold"] == 0.02


def test_severity_configured_by_the_user_wins_over_the_rules_grading(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD001", severity_overrides={"kl-exceeded": "warning"})
    assert finding.severity is Severity.warning


@pytest.mark.parametrize("cli", [{"ignore": ["kl-exceeded"]}, {"select": ["LRD002"]}, {"ignore": ["LRD00"]}])
def test_disabled(findings, cli):
    assert findings(make_run(collapsing_metrics()), "LRD001", **cli) == []


def test_missing_kl_is_reported_not_passed(findings):
    metrics = collapsing_metrics()
    del metrics["kl"]
    run = make_run(metrics)
    assert findings(run, "LRD001") == []
    [missing] = [f for f in findings(run, "LRD010") if f.evidence["metric"] == "kl"]
    assert "LRD001" in missing.evidence["rules"]


@pytest.mark.parametrize("seed", range(5))
def test_noisy_kl_under_threshold_does_not_trigger(findings, seed):
    rng = np.random.RandomState(seed)
    kl = series(np.clip(0.01 + rng.normal(0, 0.003, 285), 0, 0.0195))
    assert findings(make_run({**healthy_metrics(seed), "kl": kl}), "LRD001") == []


@pytest.mark.parametrize("peak, target", [(1e307, None), (0.5, 1e-320)])
def test_absurd_values_from_a_strangers_file_do_not_overflow(findings, peak, target):
    """A logged KL of 1e307, or a config's target_kl of 1e-320, once ended analyze with an
    OverflowError; the percent over is capped instead."""
    from lrdoctor.model import RunConfig, Sourced

    metrics = healthy_metrics()
    kl = metrics["kl"].copy()
    kl.iloc[100:120] = peak
    config = RunConfig(target_kl=Sourced(target, "config.yaml:1 target_kl")) if target else RunConfig()
    [finding] = findings(make_run({**metrics, "kl": kl}, config=config), "LRD001")
    assert finding.severity is Severity.error and finding.evidence["percent_over"] == 10**12
