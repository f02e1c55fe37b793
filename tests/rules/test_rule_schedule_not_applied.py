"""LRD011 schedule-not-applied on synthetic runs (see synthetic_runs.py)."""

import pytest
from synthetic_runs import (
    MLP,
    collapsing_metrics,
    constant_lr,
    healthy_metrics,
    make_run,
)

from lrdoctor.model import LRShape, RunConfig, Severity, Sourced

LINEAR = RunConfig(lr=Sourced(3e-4, "hyperparams.yml:3 learning_rate"),
                   lr_schedule=Sourced("linear", "hyperparams.yml:3 learning_rate"))
WARMUP = RunConfig(warmup=Sourced(True, "config.json:12 warmup"))


def test_declared_schedule_with_a_constant_logged_lr(findings):
    run = make_run(healthy_metrics(), architecture=MLP, config=LINEAR, lr_shape=constant_lr(1e-4))
    [finding] = findings(run, "LRD011")
    assert finding.severity is Severity.error
    assert '"linear"' in finding.message and "hyperparams.yml:3" in finding.message and "1e-04" in finding.message
    assert finding.evidence["declared_schedule"] == "linear" and finding.evidence["logged_lr"] == 1e-4
    assert finding.fix["schedule"]["base_lr"] == 3e-4  # the configured LR, not the logged one
    [warmup] = findings(make_run(healthy_metrics(), config=WARMUP), "LRD011")
    assert "warmup (config.json:12 warmup)" in warmup.message


def test_it_is_the_root_cause_of_the_constant_lr_finding(findings):
    found = findings(make_run(collapsing_metrics(), config=LINEAR))
    by_code = {f.code: f for f in found}
    assert found[0].code == "LRD011" and by_code["LRD002"].caused_by == "LRD011"
    assert by_code["LRD006"].caused_by == "LRD011"


@pytest.mark.parametrize("schedule", ["constant", "adaptive"])
def test_constant_or_adaptive_declarations_are_not_flagged(findings, schedule):
    config = RunConfig(lr_schedule=Sourced(schedule, "config.yaml:2 schedule"))
    assert findings(make_run(healthy_metrics(), config=config), "LRD011") == []


def test_applied_schedule_is_not_flagged(findings):
    shape = LRShape(kind="linear-decay", peak_lr=3e-4, initial_lr=3e-4, final_lr=0.0)
    assert findings(make_run(healthy_metrics(), config=LINEAR, lr_shape=shape), "LRD011") == []


def test_severity_override_and_disabled(findings):
    run = make_run(healthy_metrics(), config=LINEAR)
    [finding] = findings(run, "LRD011", rule_settings={"schedule-not-applied.severity": "warning"})
    assert finding.severity is Severity.warning
    assert findings(run, "LRD011", ignore=["LRD011"]) == []


def test_missing_lr(findings):
    metrics = healthy_metrics()
    del metrics["lr"]
    run = make_run(metrics, config=LINEAR, lr_shape=LRShape(kind="not-logged"))
    assert findings(run, "LRD011") == []
    assert any("LRD011" in f.evidence["rules"] for f in findings(run, "LRD010"))
