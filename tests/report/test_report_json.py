"""The JSON reporter: valid JSON, the documented keys, NaN/Inf as strings (synthetic results made by hand)."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from lrdoctor.model import (
    Architecture,
    Finding,
    LRShape,
    MetricSource,
    ReadNote,
    Run,
    RunConfig,
    RunResult,
    Severity,
    Sourced,
)
from lrdoctor.report import Report
from lrdoctor.report.json import render
from lrdoctor.rules import prescription

STEPS = np.arange(0, 4_000_000, 40_000, dtype=np.int64)

SOURCED = {"type": ["object", "null"], "required": ["value", "source"]}
SCHEMA = {
    "type": "object",
    "required": ["version", "tool", "runs", "problems", "sweep_figure", "summary", "insight"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1},
        "sweep_figure": {"type": ["string", "null"]},
        "insight": {"type": ["object", "null"]},
        "tool": {"type": "object", "required": ["name", "version"]},
        "problems": {"type": "array", "items": {"type": "object", "required": ["path", "offset", "message"]}},
        "summary": {
            "type": "object",
            "required": ["runs", "findings", "verdicts", "problems"],
            "properties": {"findings": {"type": "object", "required": ["error", "warning", "info"]}},
        },
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "path", "name", "architecture", "library", "step_axis", "last_step", "metrics", "unknown_tags",
                    "config", "settings", "lr_shape", "verdict", "findings", "notes", "figure",
                ],
                "properties": {
                    "path": {"type": "string"},
                    "name": {"type": "string"},
                    "library": {"type": ["string", "null"]},
                    "step_axis": {"type": "string"},
                    "last_step": {"type": ["integer", "null"]},
                    "unknown_tags": {"type": "array", "items": {"type": "string"}},
                    "notes": {"type": "array"},
                    "figure": {"type": ["string", "null"]},
                    "architecture": {"type": "object", "required": ["kind", "recurrent", "name", "source"]},
                    "metrics": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "required": ["tag", "negated", "estimator", "points", "first_step", "last_step"],
                        },
                    },
                    "config": {
                        "type": "object",
                        "required": ["lr", "lr_schedule", "warmup", "total_steps", "target_kl", "files"],
                        "properties": {"lr": SOURCED, "total_steps": SOURCED},
                    },
                    "settings": {"type": "object", "additionalProperties": SOURCED},
                    "lr_shape": {"type": "object", "required": ["kind", "peak_lr", "initial_lr", "final_lr"]},
                    "verdict": {"enum": ["collapsed", "error", "warning", "ok", "unchecked"]},
                    "findings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["code", "rule", "severity", "message", "step", "evidence", "fix", "caused_by"],
                            "properties": {
                                "code": {"type": "string", "pattern": "^LRD[0-9]{3}$"},
                                "rule": {"type": "string"},
                                "message": {"type": "string"},
                                "evidence": {"type": "object"},
                                "fix": {"type": ["object", "null"]},
                                "caused_by": {"type": ["string", "null"]},
                                "severity": {"enum": ["error", "warning", "info"]},
                                "step": {"type": ["integer", "null"]},
                            },
                        },
                    },
                },
            },
        },
    },
}


def collapsed_run() -> RunResult:
    """SYNTHETIC: a GRU at a constant 3e-4 whose KL climbs to 0.0334 and ends in NaN."""
    kl = pd.Series(np.linspace(0.01, 0.0334, len(STEPS)), index=STEPS)
    kl.iloc[-1] = np.nan
    run = Run(
        name="sweep/gru_constant",
        path=Path("runs/sweep/gru_constant"),
        metrics={"lr": pd.Series(3e-4, index=STEPS), "kl": kl, "entropy": pd.Series(np.linspace(1.0, 1.3, len(STEPS)), index=STEPS)},
        sources={
            "lr": MetricSource("train/learning_rate"),
            "kl": MetricSource("train/approx_kl", estimator="k3"),
            "entropy": MetricSource("train/entropy_loss", negated=True),
        },
        step_axis="env steps",
        library="sb3",
        architecture=Architecture("gru", True, "graph_free", "config.yaml:3 rnn_type"),
        config=RunConfig(lr=Sourced(3e-4, "config.yaml:5 learning_rate"), total_steps=Sourced(20_000_000, "config.yaml:6")),
        lr_shape=LRShape("constant", 3e-4, 3e-4, 3e-4),
        unknown_tags=("time/fps",),
        notes=(ReadNote("runs/sweep/gru_constant/events.out.tfevents.2", "truncated record", 4096),),
    )
    fix = prescription.fix_for(run)
    findings = (
        Finding("LRD002", "constant-lr-recurrent", Severity.error, "constant LR on a GRU", run=run.name, evidence={"lr": 3e-4}, fix=fix),
        Finding(
            "LRD006", "policy-collapse", Severity.error, "collapsed", run=run.name, step=2_000_000,
            evidence={"onset_step": np.int64(2_000_000)}, fix=fix, caused_by="LRD002",
        ),
        Finding(
            "LRD001", "kl-exceeded", Severity.error, "KL over", run=run.name, step=1_900_000,
            evidence={"peak": np.float32(0.0334), "threshold": 0.02, "percent_over": 67, "sustained": np.bool_(True)},
            fix=fix, caused_by="LRD006",
        ),
        Finding(
            "LRD007", "non-finite", Severity.error, "NaN in kl", run=run.name, step=int(STEPS[-1]),
            evidence={"first_value": float("nan"), "others": [float("inf"), -float("inf"), 1.0]},
            caused_by="LRD006",
        ),
        Finding("LRD010", "metric-missing", Severity.info, "no episode return", run=run.name, evidence={"metric": "episode_return"}),
    )
    return RunResult(run, findings)


def report(**extra) -> Report:
    return Report((collapsed_run(),), problems=(ReadNote("runs/broken", "unreadable run: no scalars"),), **extra)


def strict_load(text: str):
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_output_is_strict_json_matching_the_documented_keys():
    document = strict_load(render(report()))
    jsonschema.validate(document, SCHEMA)


def test_non_finite_evidence_becomes_strings():
    finding = next(f for f in strict_load(render(report()))["runs"][0]["findings"] if f["code"] == "LRD007")
    assert finding["evidence"] == {"first_value": "NaN", "others": ["Infinity", "-Infinity", 1.0]}


def test_numpy_evidence_becomes_plain_numbers():
    findings = {f["code"]: f for f in strict_load(render(report()))["runs"][0]["findings"]}
    assert findings["LRD006"]["evidence"]["onset_step"] == 2_000_000
    assert findings["LRD001"]["evidence"]["peak"] == pytest.approx(0.0334, rel=1e-6)
    assert findings["LRD001"]["evidence"]["sustained"] is True


def test_every_finding_stays_with_its_cause():
    result = collapsed_run()
    findings = strict_load(render(report()))["runs"][0]["findings"]
    assert [f["code"] for f in findings] == [f.code for f in result.findings]
    assert {f["code"]: f["caused_by"] for f in findings} == {f.code: f.caused_by for f in result.findings}


def test_the_fix_carries_the_schedule_numbers():
    fix = next(f for f in strict_load(render(report()))["runs"][0]["findings"] if f["code"] == "LRD002")["fix"]
    schedule = prescription.recommended_schedule(collapsed_run().run)
    assert [(p["start_step"], p["end_step"], p["start_lr"], p["end_lr"]) for p in fix["schedule"]["phases"]] == [
        (p.start_step, p.end_step, p.start_lr, p.end_lr) for p in schedule.phases
    ]
    assert "sb3()" in fix["code"]["sb3"]


def test_run_facts_say_where_each_metric_came_from():
    run = strict_load(render(report()))["runs"][0]
    assert run["architecture"] == {"kind": "gru", "recurrent": True, "name": "graph_free", "source": "config.yaml:3 rnn_type"}
    assert run["metrics"]["entropy"]["negated"] is True
    assert run["metrics"]["kl"] == {
        "tag": "train/approx_kl", "negated": False, "estimator": "k3",
        "points": len(STEPS), "first_step": 0, "last_step": int(STEPS[-1]),
    }
    assert run["config"]["lr"] == {"value": 3e-4, "source": "config.yaml:5 learning_rate"}
    assert run["config"]["warmup"] is None
    assert run["lr_shape"]["kind"] == "constant"
    assert run["verdict"] == "collapsed"
    assert run["notes"] == [{"path": "runs/sweep/gru_constant/events.out.tfevents.2", "offset": 4096, "message": "truncated record"}]


def test_summary_counts_by_severity_and_verdict():
    document = strict_load(render(report()))
    assert document["summary"] == {
        "runs": 1, "findings": {"error": 4, "warning": 0, "info": 1}, "verdicts": {"collapsed": 1}, "problems": 1,
    }
    assert document["problems"] == [{"path": "runs/broken", "offset": None, "message": "unreadable run: no scalars"}]


def test_figure_links_are_included_when_drawn():
    document = strict_load(render(report(figures={"runs/sweep/gru_constant": "figs/sweep__gru_constant.png"}, sweep_figure="figs/sweep.png")))
    assert document["runs"][0]["figure"] == "figs/sweep__gru_constant.png"
    assert document["sweep_figure"] == "figs/sweep.png"
    assert strict_load(render(report()))["runs"][0]["figure"] is None


def test_a_run_with_nothing_read_is_still_reported():
    empty = RunResult(Run(name="empty", path=Path("runs/empty"), unknown_tags=("a", "b")))
    run = strict_load(render(Report((empty,))))["runs"][0]
    assert run["metrics"] == {} and run["verdict"] == "unchecked" and run["last_step"] is None
