"""Real runs written by the libraries themselves (tests/real_runs/, made by scripts/corpus/):
each is recognised, its tags mapped as its source says, its numbers those TensorBoard's own
EventAccumulator reads, and its verdict the one a careful reader of its curves gives
(tests/real_runs/README.md says why, run by run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

from lrdoctor.cli import app

CORPUS = Path(__file__).resolve().parents[1] / "real_runs"

# run directory -> (library, step axis, architecture kind, LR shape, verdict, codes at warning or above,
#                   tags each metric must come from)
EXPECTED = {
    "rl_games/cartpole_masked_lstm_01-22-04-34/summaries": (
        "rl_games", "frames", "lstm", "adaptive", "ok", set(),
        {"lr": "info/last_lr", "kl": "info/kl", "entropy": "losses/entropy", "episode_return": "rewards/step"},
    ),
    "rllib/ppo_lstm_cartpole/PPO_CartPole-v1_1507e_00000_0_2026-12-01_22-25-15": (
        "rllib", "env steps (num_env_steps_sampled_lifetime)", "lstm", "constant", "at risk", {"LRD002"},
        {"lr": "ray/tune/learners/default_policy/default_optimizer_learning_rate",
         "kl": "ray/tune/learners/default_policy/mean_kl_loss",
         "entropy": "ray/tune/learners/default_policy/entropy",
         "episode_return": "ray/tune/env_runners/episode_return_mean"},
    ),
    "rsl_rl/2026-12-01_22-02-30_gru_pendulum": (
        "rsl_rl", "iterations", "gru", "adaptive", "at risk", {"LRD003"},
        {"lr": "Loss/learning_rate", "entropy": "Loss/entropy", "value_loss": "Loss/value",
         "policy_loss": "Loss/surrogate", "episode_return": "Train/mean_reward"},
    ),
    "sb3_contrib/RecurrentPPO_collapse_lr0.01_seed100_1": (
        "sb3", "env steps", "lstm", "constant", "collapsed", {"LRD001", "LRD002", "LRD006", "LRD015"},
        {"lr": "train/learning_rate", "kl": "train/approx_kl", "entropy": "train/entropy_loss"},
    ),
    "sb3_contrib/RecurrentPPO_healthy_lr0.0003_seed100_1": (
        "sb3", "env steps", "lstm", "constant", "at risk", {"LRD002"},
        {"lr": "train/learning_rate", "kl": "train/approx_kl", "episode_return": "rollout/ep_rew_mean"},
    ),
    "skrl/26-12-01_21-56-25-876495_PPO": (
        "skrl", "timesteps", "mlp", "adaptive", "ok", set(),
        {"lr": "Learning / Learning rate", "entropy": "Loss / Entropy loss",
         "episode_return": "Reward / Total reward (mean)"},
    ),
    "skrl/26-12-01_21-56-47-281712_PPO_RNN": (
        "skrl", "timesteps", "rnn", "not-logged", "ok", set(),
        {"entropy": "Loss / Entropy loss", "episode_return": "Reward / Total reward (mean)"},
    ),
    "tianshou/ppo_cartpole/exp_seed=103": (
        "tianshou", "update steps", "unknown", "not-logged", "ok", set(),
        {"entropy": "update/ent_loss/mean", "policy_loss": "update/actor_loss/mean", "value_loss": "update/vf_loss/mean"},
    ),
    "torchrl/PPO_corpus_CartPole-v1_0872ea13_26_12_01-22_00_44": (
        "torchrl", "frames", "unknown", "linear-decay", "ok", set(),
        {"lr": "train/lr", "kl": "train/kl_approx", "entropy": "train/entropy", "episode_return": "train/reward"},
    ),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    result = CliRunner(env={"LRDOCTOR_CACHE_DIR": str(cache)}).invoke(
        app, ["analyze", str(CORPUS), "--format", "json", "--jobs", "1"]
    )
    assert result.exit_code == 1, result.output  # the collapse is an error
    return {run["name"]: run for run in json.loads(result.stdout)["runs"]}


def test_every_run_of_the_corpus_is_read(report):
    assert set(report) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recognised_mapped_and_judged(report, name):
    library, axis, kind, shape, verdict, codes, tags = EXPECTED[name]
    run = report[name]
    assert (run["library"], run["step_axis"], run["architecture"]["kind"]) == (library, axis, kind)
    assert run["lr_shape"]["kind"] == shape  # a logged LR is never "not logged", an absent one never constant
    assert run["verdict"] == verdict
    assert {f["code"] for f in run["findings"] if f["severity"] != "info"} == codes
    assert {metric: run["metrics"][metric]["tag"] for metric in tags} == tags


def accumulated(run_dir: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    events = accumulator.Scalars(tag)
    return np.array([e.step for e in events]), np.array([e.value for e in events])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_numbers_are_those_tensorboard_reads(report, name):
    """Each mapped metric's first and last value and point count, against EventAccumulator
    (signs aside: -H tags are negated, and RLlib's steps re-indexed to env steps)."""
    run = report[name]
    for metric, tag in EXPECTED[name][6].items():
        steps, values = accumulated(CORPUS / name, tag)
        logged = run["metrics"][metric]
        assert logged["points"] == len(np.unique(steps)), (metric, tag)
        if run["library"] != "rllib":
            assert (logged["first_step"], logged["last_step"]) == (int(steps.min()), int(steps.max()))


def test_the_real_collapse_turns_where_its_return_leaves_its_best(report):
    run = report["sb3_contrib/RecurrentPPO_collapse_lr0.01_seed100_1"]
    collapse = next(f for f in run["findings"] if f["code"] == "LRD006")
    evidence = collapse["evidence"]
    steps, values = accumulated(CORPUS / "sb3_contrib/RecurrentPPO_collapse_lr0.01_seed100_1", "rollout/ep_rew_mean")
    # the return peaked (smoothed) around 22K before falling: the onset is there, not at the first update
    assert evidence["onset_step"] == evidence["outcome_best_step"] and 15_000 < collapse["step"] < 30_000
    assert evidence["kl_sustained_from"] < collapse["step"]  # the KL's excess came first: the cause
    assert any(s.startswith("entropy collapsed") for s in evidence["symptoms"])  # the entropy's fall is told
    assert evidence["outcome_late"] < 0.7 * float(values.max())


def test_a_healthy_run_at_a_constant_lr_on_an_lstm_is_at_risk_not_an_error(report):
    run = report["sb3_contrib/RecurrentPPO_healthy_lr0.0003_seed100_1"]
    [finding] = [f for f in run["findings"] if f["code"] == "LRD002"]
    assert finding["severity"] == "warning" and run["verdict"] == "at risk"


def test_the_kl_of_adaptive_runs_is_judged_by_the_default_not_their_set_point(report):
    for name in ("rl_games/cartpole_masked_lstm_01-22-04-34/summaries", "skrl/26-12-01_21-56-25-876495_PPO"):
        run = report[name]
        assert all(f["evidence"].get("threshold", 0.02) == 0.02 for f in run["findings"] if f["code"] == "LRD001")


def test_what_cannot_be_judged_is_said(report):
    tianshou = report["tianshou/ppo_cartpole/exp_seed=103"]
    assert any("returns" in note["message"] and "not used" in note["message"] for note in tianshou["notes"])
    skrl = report["skrl/26-12-01_21-56-47-281712_PPO_RNN"]
    assert any("only their shape is judged" in note["message"] for note in skrl["notes"])
    torchrl = report["torchrl/PPO_corpus_CartPole-v1_0872ea13_26_12_01-22_00_44"]
    assert [f["code"] for f in torchrl["findings"] if f["code"] in ("LRD002", "LRD003", "LRD014")] == ["LRD014"]


def test_a_config_saved_the_way_isaac_lab_saves_it_is_read(tmp_path):
    """Isaac Lab's train scripts save the agent's config as params/agent.yaml beside the run.
    This one is written fresh, in the shape Isaac Lab writes for rsl_rl, beside the real rsl_rl
    run's event file (copied: the corpus itself is never changed)."""
    import shutil

    from lrdoctor.read.metadata import read_metadata

    run = tmp_path / "2026-12-01_22-02-30_gru_pendulum"
    shutil.copytree(CORPUS / "rsl_rl" / run.name, run)
    (run / "params").mkdir()
    (run / "params" / "agent.yaml").write_text(
        "seed: 105\nnum_steps_per_env: 64\nmax_iterations: 60\n"
        "policy:\n  class_name: ActorCriticRecurrent\n  rnn_type: lstm\n  rnn_hidden_dim: 64\n"
        "algorithm:\n  class_name: PPO\n  learning_rate: 0.001\n  schedule: adaptive\n  desired_kl: 0.01\n"
    )
    meta = read_metadata(run, run)
    assert (meta.architecture.kind, meta.architecture.source) == ("lstm", "params/agent.yaml:6 policy.rnn_type")
    assert meta.config.lr.value == 0.001 and meta.config.lr_schedule.value == "adaptive"
    assert meta.config.target_kl is None  # desired_kl is the adaptive LR's set-point, not a limit
