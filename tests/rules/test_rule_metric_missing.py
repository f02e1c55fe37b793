"""LRD010 metric-missing, emitted by the engine, on synthetic runs (see synthetic_runs.py)."""

from synthetic_runs import healthy_metrics, make_run

from lrdoctor.model import Severity


def test_one_finding_per_missing_metric_naming_the_rules(findings):
    metrics = healthy_metrics()
    del metrics["kl"], metrics["clip_fraction"]
    found = findings(make_run(metrics), "LRD010")
    assert {f.evidence["metric"]: f.evidence["rules"] for f in found} == {
        "kl": ["LRD001", "LRD006"],
        "clip_fraction": ["LRD008"],
    }
    assert all(f.severity is Severity.info and f.step is None for f in found)
    assert "kl-exceeded (LRD001)" in found[0].message or "kl-exceeded (LRD001)" in found[1].message


def test_only_selected_rules_are_named(findings):
    metrics = healthy_metrics()
    del metrics["kl"]
    [found] = findings(make_run(metrics), "LRD010", select=["LRD001", "LRD010"])
    assert found.evidence["rules"] == ["LRD001"]


def test_a_run_with_no_known_metric_gets_one_finding(findings):
    run = make_run({})
    run.unknown_tags = ("custom/kl", "custom/lr")
    [nothing] = findings(run)
    assert nothing.code == "LRD010" and "2 tags not recognised" in nothing.message


def test_severity_override(findings):
    [found] = findings(make_run({}), "LRD010", rule_settings={"metric-missing.severity": "warning"})
    assert found.severity is Severity.warning


def test_disabled(findings):
    metrics = healthy_metrics()
    del metrics["kl"]
    assert findings(make_run(metrics), "LRD010", ignore=["metric-missing"]) == []
    assert findings(make_run({}), ignore=["LRD010"]) == []


def test_a_complete_run_has_none(findings):
    assert findings(make_run(healthy_metrics()), "LRD010") == []
