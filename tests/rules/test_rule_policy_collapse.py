"""LRD006 policy-collapse on synthetic runs (see synthetic_runs.py)."""

import numpy as np
import pytest
from synthetic_runs import MLP, collapsing_metrics, healthy_metrics, make_run, series

from lrdoctor.model import Severity


def test_the_headline_with_onset_and_cause(findings):
    [finding] = findings(make_run(collapsing_metrics()), "LRD006")
    assert finding.severity is Severity.error
    # the onset is where the outcome turned, the return leaving its best (issue 15); the KL's
    # sustained excess, its cause, is told beside it
    assert 1.8e6 < finding.evidence["kl_sustained_from"] < 4e6 and finding.evidence["onset_step"] == finding.step
    assert finding.step == finding.evidence["outcome_best_step"] and finding.evidence["onset"] == "episode return left its best"
    assert finding.evidence["kl_peak"] == 0.0334 and finding.evidence["kl_percent_over"] == 67
    assert finding.caused_by == "LRD002" and finding.evidence["cause"] == "LRD002"
    assert "cause: constant LR 3e-04 on a recurrent GRU (graph_free, from config.json:8 rnn_type)" in finding.message
    assert any(s.startswith("entropy rose") for s in finding.evidence["symptoms"])
    assert any(s.startswith("episode return fell") for s in finding.evidence["symptoms"])
    assert finding.fix["schedule"]["base_lr"] == 3e-4


def test_symptoms_point_to_it(findings):
    found = findings(make_run(collapsing_metrics()))
    by_code = {f.code: f for f in found}
    assert by_code["LRD001"].caused_by == "LRD006" and by_code["LRD004"].caused_by == "LRD006"
    assert [f.code for f in found][:2] == ["LRD002", "LRD006"]


def test_without_an_lr_cause_it_says_so(findings):
    [finding] = findings(make_run(collapsing_metrics(), architecture=MLP), "LRD006")
    assert finding.caused_by is None and "no LR setting" in finding.message


def test_kl_excess_alone_is_not_a_collapse(findings):
    # Synthetic: KL over 0.02, but entropy falls and return rises as in a healthy run.
    metrics = {**healthy_metrics(), "kl": collapsing_metrics()["kl"]}
    assert findings(make_run(metrics), "LRD006") == []


def test_return_drop_alone_with_kl_excess_is_a_collapse(findings):
    metrics = collapsing_metrics()
    del metrics["entropy"]
    [finding] = findings(make_run(metrics), "LRD006")
    assert finding.evidence["symptoms"][0].startswith("episode return fell")


def test_threshold_override(findings):
    assert findings(make_run(collapsing_metrics()), "LRD006", rule_settings={"LRD006.kl_threshold": "0.035"}) == []


def test_disabled(findings):
    found = findings(make_run(collapsing_metrics()), ignore=["policy-collapse"])
    assert "LRD006" not in {f.code for f in found}
    assert {f.code: f for f in found}["LRD001"].caused_by == "LRD002"  # the next cause up


def test_missing_kl(findings):
    metrics = collapsing_metrics()
    del metrics["kl"]
    run = make_run(metrics)
    assert findings(run, "LRD006") == []
    assert any("LRD006" in f.evidence["rules"] for f in findings(run, "LRD010"))


@pytest.mark.parametrize("seed", range(5))
def test_noisy_healthy_run_with_kl_spikes_is_not_a_collapse(findings, seed):
    metrics = healthy_metrics(seed)
    rng = np.random.RandomState(seed)
    kl = metrics["kl"].to_numpy().copy()
    kl[rng.choice(285, 8, replace=False)] = 0.03
    noisy_return = metrics["episode_return"] + rng.normal(0, 0.1, 285)
    assert findings(make_run({**metrics, "kl": series(kl), "episode_return": noisy_return}), "LRD006") == []
