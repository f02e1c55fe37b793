"""The prescription: the recommended schedule for a run, from its config or its logs."""

import json
from pathlib import Path

import pandas as pd
import pytest

from lrdoctor.model import Architecture, LRShape, Run, RunConfig, Sourced
from lrdoctor.rules.prescription import fix_for, recommended_schedule


def synthetic_run(config=RunConfig(), lr_shape=LRShape(), last_step=4_669_440) -> Run:
    kl = pd.Series([0.01, 0.02], index=pd.Index([16_384, last_step], dtype="int64"))
    return Run(name="synthetic", path=Path("synthetic"), metrics={"kl": kl}, config=config, lr_shape=lr_shape)


CONFIGURED = RunConfig(lr=Sourced(1e-4, "config.json:31 learning_rate"),
                       total_steps=Sourced(20_000_000, "config.json:29 total_timesteps"))


def test_from_the_config_reproduces_the_worked_example():
    fix = fix_for(synthetic_run(CONFIGURED, LRShape(kind="constant", peak_lr=3e-4)))
    schedule = fix["schedule"]
    assert schedule["base_lr"] == 1e-4 and schedule["base_lr_source"] == "config (config.json:31 learning_rate)"
    assert schedule["total_steps"] == 20_000_000 and "total_timesteps" in schedule["total_steps_source"]
    corners = [(p["start_step"], p["start_lr"]) for p in schedule["phases"]] + [
        (schedule["phases"][-1]["end_step"], schedule["phases"][-1]["end_lr"])
    ]
    assert corners == [(0, 1e-6), (500_000, 1e-5), (5_000_000, 1e-4), (20_000_000, 1e-5)]
    assert fix["summary"].startswith("Start at 1e-06, reach 1e-05 at 500K, ramp to 1e-04 by 5M")
    assert "learning_rate=Schedule(base_lr=0.0001, total_steps=20_000_000).sb3()" in fix["code"]["sb3"]
    assert "LambdaLR" in fix["code"]["torch"]
    json.dumps(fix)  # every reporter can serialise it


def test_from_the_logs_when_the_config_is_silent():
    run = synthetic_run(lr_shape=LRShape(kind="constant", peak_lr=3e-4, initial_lr=3e-4))
    schedule = recommended_schedule(run)
    assert schedule.base_lr == 3e-4 and schedule.total_steps == 4_669_440
    fix = fix_for(run)
    assert fix["schedule"]["base_lr_source"] == "peak of the logged LR"
    assert fix["schedule"]["total_steps_source"] == "last logged step"


@pytest.mark.parametrize("bad", [None, "3e-4x", True, -1.0, float("nan")])
def test_unusable_configured_values_fall_back_to_the_logs(bad):
    config = RunConfig(lr=Sourced(bad, "c"), total_steps=Sourced(bad, "c")) if bad is not None else RunConfig()
    schedule = recommended_schedule(synthetic_run(config, LRShape(kind="constant", peak_lr=2e-4)))
    assert schedule.base_lr == 2e-4 and schedule.total_steps == 4_669_440


def test_unknown_lr_gives_advice_without_numbers():
    run = synthetic_run(lr_shape=LRShape(kind="not-logged"))
    assert recommended_schedule(run) is None
    fix = fix_for(run)
    assert fix["schedule"] is None and fix["code"] is None and "plot-schedule" in fix["summary"]


@pytest.mark.parametrize(
    "architecture, algorithm",
    [
        (Architecture("gru", True, "graph_free", "config.json:8 rnn_type"), "RecurrentPPO"),
        (Architecture("mlp", False, None, "policy MlpPolicy"), "PPO"),
        (Architecture(), "PPO"),  # unknown: PPO is the class that runs any non-recurrent policy
    ],
)
def test_the_code_line_names_recurrent_ppo_only_for_a_recurrent_policy(architecture, algorithm):
    run = synthetic_run(CONFIGURED)
    run.architecture = architecture
    assert fix_for(run)["code"]["sb3"].split("model = ")[1].startswith(f"{algorithm}(")
