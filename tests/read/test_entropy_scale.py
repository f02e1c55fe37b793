"""A library that logs its entropy loss scaled by a coefficient (skrl: -entropy_loss_scale x H)
has its entropy read in nats when a config beside the run declares the coefficient, and judged
by shape only, with a note, when none does. On a real skrl 2.1.1 PPO_RNN run; the config is an
Isaac Lab-style ``params/agent.yaml`` written by the test (skrl itself saves none)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lrdoctor import load_runs

RUN = Path(__file__).parents[1] / "real_runs" / "skrl" / "26-12-01_21-56-47-281712_PPO_RNN"
TAG = "Loss_/_Entropy_loss"  # skrl's "Loss / Entropy loss" as its writer stores it
SCALE = 0.01  # the entropy_loss_scale train_skrl.py gave this run


def _logged() -> np.ndarray:
    [event_file] = RUN.glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(event_file), size_guidance={"scalars": 0})
    accumulator.Reload()
    tag = next(t for t in accumulator.Tags()["scalars"] if t.replace(" ", "_") == TAG)
    return np.array([event.value for event in accumulator.Scalars(tag)])


def _copy_with_config(tmp_path: Path, agent_yaml: str | None) -> Path:
    run = tmp_path / RUN.name
    shutil.copytree(RUN, run)
    if agent_yaml is not None:
        (run / "params").mkdir()
        (run / "params" / "agent.yaml").write_text(agent_yaml)
    return run


def test_a_declared_scale_is_divided_out(tmp_path):
    run_dir = _copy_with_config(tmp_path, f"seed: 102\nagent:\n  class: PPO_RNN\n  entropy_loss_scale: {SCALE}\n")
    [run] = load_runs(run_dir, use_cache=False)
    _, entropy = run.metrics.points("entropy")
    np.testing.assert_allclose(entropy, -_logged() / SCALE, rtol=1e-6)
    assert 0 < entropy.max() <= np.log(2) + 1e-3  # CartPole's two actions: at most ln 2 nats
    messages = [note.message for note in run.notes]
    assert any("divided by ent_coef 0.01" in m and "params/agent.yaml:4 agent.entropy_loss_scale" in m for m in messages)
    assert not any("only their shape is judged" in m for m in messages)


def test_without_a_config_the_entropy_stays_scaled_and_says_so(tmp_path):
    [run] = load_runs(_copy_with_config(tmp_path, None), use_cache=False)
    _, entropy = run.metrics.points("entropy")
    np.testing.assert_allclose(entropy, -_logged(), rtol=1e-6)
    assert any("only their shape is judged" in note.message for note in run.notes)


@pytest.mark.parametrize("scale", ["0", "-0.01", ".nan", "'much'"])
def test_a_scale_that_cannot_be_divided_by_is_not_used(tmp_path, scale):
    run_dir = _copy_with_config(tmp_path, f"agent:\n  entropy_loss_scale: {scale}\n")
    [run] = load_runs(run_dir, use_cache=False)
    _, entropy = run.metrics.points("entropy")
    np.testing.assert_allclose(entropy, -_logged(), rtol=1e-6)
    assert any("only their shape is judged" in note.message for note in run.notes)
