"""LRD002 constant-lr-recurrent on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import (
    GRU,
    MLP,
    UNKNOWN,
    collapsing_metrics,
    healthy_metrics,
    make_run,
    series,
)

from lrdoctor.model import LRShape, Severity


def test_constant_lr_on_a_gru_names_the_gru_and_where_it_was_read(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD002")
    assert finding.severity is Severity.error
    assert "GRU" in finding.message and "graph_free" in finding.message and GRU.source in finding.message
    assert "3e-04" in finding.message
    assert finding.evidence["architecture_source"] == GRU.source and finding.evidence["lr"] == 3e-4
    assert finding.fix["schedule"]["base_lr"] == 3e-4 and "sb3" in finding.fix["code"]


def test_not_on_an_mlp_and_not_when_the_architecture_is_unknown(findings):
    assert findings(make_run(healthy_metrics(), architecture=MLP), "LRD002") == []
    # an unknown architecture never yields constant-lr-recurrent: LRD014 says it (issue 15)
    assert findings(make_run(healthy_metrics(), architecture=UNKNOWN), "LRD002") == []
    [unknown] = findings(make_run(healthy_metrics(), architecture=UNKNOWN), "LRD014")
    assert unknown.severity is Severity.info and "--arch" in unknown.message and "LRD002" in unknown.message


def test_severity_override(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD002", rule_settings={"LRD002.severity": "warning"})
    assert finding.severity is Severity.warning


@pytest.mark.parametrize("cli", [{"ignore": ["constant-lr-recurrent"]}, {"select": ["kl-exceeded"]}])
def test_disabled(findings, cli):
    assert findings(make_run(collapsing_metrics()), "LRD002", **cli) == []


def test_an_lr_that_was_not_logged_is_never_constant(findings):
    metrics = collapsing_metrics()
    del metrics["lr"]
    run = make_run(metrics, lr_shape=LRShape(kind="not-logged"))
    assert findings(run, "LRD002") == []
    [missing] = [f for f in findings(run, "LRD010") if f.evidence["metric"] == "lr"]
    assert {"LRD002", "LRD003", "LRD011"} <= set(missing.evidence["rules"])


def test_a_noisy_decaying_lr_is_not_constant(findings):
    # Synthetic: a decaying LR with logging jitter; its shape (from ingestion) is linear-decay.
    rng = np.random.RandomState(3)
    lr = series(np.linspace(3e-4, 3e-5, 285) * (1 + rng.normal(0, 0.01, 285)))
    shape = LRShape(kind="linear-decay", peak_lr=3e-4, initial_lr=3e-4, final_lr=3e-5)
    assert findings(make_run({**healthy_metrics(), "lr": lr}, lr_shape=shape), "LRD002") == []
