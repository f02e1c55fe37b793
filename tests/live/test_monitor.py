"""The plain in-loop API: a loop feeds its metrics each update, the monitor answers with new findings.

Fed here with the values a real run logged (the sb3-contrib RecurrentPPO collapse and its
healthy twin in tests/real_runs/), update by update, as a CleanRL-style loop would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lrdoctor import rules
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


# ------------------------------------------------------------------ acting on the early warning


class Optimizer:
    """What the monitor touches of a torch optimizer: its param groups."""

    def __init__(self, lr: float) -> None:
        self.param_groups = [{"lr": lr}, {"lr": lr}]


def test_on_warning_stop_stops_at_the_forecast_before_the_collapse():
    monitor = Monitor("RecurrentPPO", architecture="lstm", total_steps=40_960, stop_on=None, on_warning="stop")
    stopped = replay(monitor, "RecurrentPPO_collapse_lr0.01_seed100_1")
    # the first finding about the dynamics at warning or above: here the KL's sustained excess
    # (LRD001) came two updates before the forecast; either is the early warning
    assert monitor.warned_by is monitor.stopped_by and monitor.stopped_by.code in ("LRD001", "LRD015")
    assert monitor.stopped_by.severity.rank >= Severity.warning.rank and not rules.static(monitor.stopped_by.code)
    assert monitor.updates > 5 and stopped < 22_016  # the collapse's onset (LRD006, on the whole run)
    only_forecast = Monitor(architecture="lstm", stop_on=None, on_warning="stop", select=["LRD015"])
    replay(only_forecast, "RecurrentPPO_collapse_lr0.01_seed100_1")
    assert only_forecast.stopped_by.message.startswith("collapse expected within ~6 updates (~3.07K steps) from step 3.58K: approx KL")


def test_on_warning_lower_lr_switches_the_optimizer_to_the_warmup_schedule_from_that_step():
    optimizer = Optimizer(0.01)
    monitor = Monitor("RecurrentPPO", architecture="lstm", total_steps=40_960, stop_on=None,
                      on_warning="lower_lr", optimizer=optimizer)
    assert monitor.lr(0) is None
    assert replay(monitor, "RecurrentPPO_collapse_lr0.01_seed100_1") is None  # lowered, not stopped
    at = monitor.warned_by.step
    relaunched = monitor.relaunched
    assert not rules.static(monitor.warned_by.code) and relaunched.from_step >= at
    assert relaunched.schedule.base_lr == 0.01 and relaunched.schedule.total_steps == 40_960 - relaunched.from_step
    assert monitor.lr(relaunched.from_step) == pytest.approx(1e-4)  # a hundredth of the LR in use
    last = updates("RecurrentPPO_collapse_lr0.01_seed100_1")[-1][0]
    assert [group["lr"] for group in optimizer.param_groups] == [pytest.approx(relaunched.lr(last))] * 2
    assert relaunched.lr(last) < 0.01


def test_lower_lr_without_any_lr_to_lower_stops():
    monitor = Monitor(architecture="lstm", stop_on=None, on_warning="lower_lr", grace_updates=0)
    for step, metrics in updates("RecurrentPPO_collapse_lr0.01_seed100_1"):
        monitor.update(step, {k: v for k, v in metrics.items() if k != "lr"})
        if monitor.should_stop:
            break
    assert monitor.stopped_by is not None and monitor.relaunched is None


def test_on_warning_is_checked():
    with pytest.raises(ValueError, match="on_warning"):
        Monitor(on_warning="panic")


def test_a_healthy_run_is_left_alone_by_on_warning():
    optimizer = Optimizer(3e-4)
    monitor = Monitor(architecture="lstm", total_steps=40_960, on_warning="lower_lr", optimizer=optimizer)
    assert replay(monitor, "RecurrentPPO_healthy_lr0.0003_seed100_1") is None
    assert monitor.warned_by is None and optimizer.param_groups[0]["lr"] == 3e-4


def test_the_cleanrl_style_example_acts_inside_its_loop():
    """docs/examples/cleanrl_style_ppo.py: a real PPO loop (torch, gymnasium CartPole) at a too-high LR."""
    pytest.importorskip("torch", reason="torch not installed")
    pytest.importorskip("gymnasium", reason="gymnasium not installed")
    example = load_script(Path(__file__).resolve().parents[2] / "docs" / "examples" / "cleanrl_style_ppo.py")
    monitor = example.main(["--total-timesteps", "8192", "--seed", "100", "--on-warning", "stop"])
    assert monitor.stopped_by is not None and not rules.static(monitor.stopped_by.code)
    assert monitor.updates > 5 and monitor.updates < 16
