"""The plain in-loop API: a loop feeds its metrics each update, the monitor answers with new findings.

Fed here with the values a real run logged (the sb3-contrib RecurrentPPO collapse and its
healthy twin in tests/real_runs/), update by update, as a CleanRL-style loop would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lrdoctor.live.monitor import Monitor, StopPolicy
from lrdoctor.model import Finding, Severity

CORPUS = Path(__file__).resolve().parents[1] / "real_runs" / "sb3_contrib"
TAGS = {"lr": "train/learning_rate", "kl": "train/approx_kl", "entropy": "train/entropy_loss",
        "episode_return": "rollout/ep_rew_mean", "value_loss": "train/value_loss"}


def updates(run: str) -> list[tuple[int, dict[str, float]]]:
    """The run's logged values grouped by step, in order: one dict per update, +H entropy."""
    accumulator = EventAccumulator(str(next((CORPUS / run).glob("events.out.tfevents.*"))), size_guidance={"scalars": 0})
    accumulator.Reload()
    by_step: dict[int, dict[str, float]] = {}
    for metric, tag in TAGS.items():
        for event in accumulator.Scalars(tag):
            by_step.setdefault(event.step, {})[metric] = -event.value if metric == "entropy" else event.value
    return sorted(by_step.items())


def replay(monitor: Monitor, run: str) -> int | None:
    """Feed the run to the monitor as a loop would; the step it stopped at, or None."""
    for step, metrics in updates(run):
        monitor.update(step, metrics)
        if monitor.should_stop:
            return step
    return None


def test_a_real_collapse_is_stopped_on_dynamic_evidence_after_the_grace_period():
    monitor = Monitor("RecurrentPPO", architecture="lstm", total_steps=40_960, grace_updates=5)
    stopped = replay(monitor, "RecurrentPPO_collapse_lr0.01_seed100_1")
    first = next(f for f in monitor.findings if f.severity is not Severity.info)
    assert first.code == "LRD002"  # the constant LR on an LSTM: said at once, stops nothing
    assert monitor.stopped_by.code == "LRD001" and monitor.stopped_by.severity is Severity.error
    assert stopped is not None and monitor.updates > 5
    assert stopped < 22_016  # before the return left its best (the collapse's onset in analyze)


def test_a_healthy_run_is_not_stopped_and_its_settings_finding_is_said_once():
    monitor = Monitor("RecurrentPPO", architecture="lstm", total_steps=40_960)
    assert replay(monitor, "RecurrentPPO_healthy_lr0.0003_seed100_1") is None
    assert [f.code for f in monitor.findings if f.severity is not Severity.info] == ["LRD002"]
    assert monitor.result.verdict == "at risk"


def test_ignore_and_select_by_code_or_slug():
    monitor = Monitor(architecture="lstm", ignore=["kl-exceeded", "LRD006"], grace_updates=0)
    replay(monitor, "RecurrentPPO_collapse_lr0.01_seed100_1")
    assert not {"LRD001", "LRD006"} & {f.code for f in monitor.findings}
    only = Monitor(architecture="lstm", select=["LRD002"])
    only.update(1024, {"lr": 3e-4, "kl": 0.01})
    only.update(2048, {"lr": 3e-4, "kl": 0.01})
    assert {f.code for f in only.findings} == {"LRD002"}


def test_unknown_keys_and_non_numbers_are_ignored():
    monitor = Monitor()
    assert monitor.update(1, {"lr": np.float32(3e-4), "kl": "n/a", "my_metric": 1.0}) == monitor.findings
    assert set(monitor.result.run.metrics) == {"lr"}


@pytest.mark.parametrize("bad", [{"stop_on": "fatal"}, {"grace_updates": -1}, {"grace_updates": 1.5}])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        StopPolicy(**bad)


def test_a_static_finding_stops_only_when_asked():
    finding = Finding(code="LRD002", rule="constant-lr-recurrent", severity=Severity.error, message="m")
    assert not StopPolicy().stops(finding, updates=100)
    assert StopPolicy(stop_on_static=True).stops(finding, updates=0)
    dynamic = Finding(code="LRD001", rule="kl-exceeded", severity=Severity.error, message="m")
    assert not StopPolicy(grace_updates=5).stops(dynamic, updates=5) and StopPolicy(grace_updates=5).stops(dynamic, 6)
