"""Settings from directory names and configs, in one flat key space (read/settings.py)."""

from pathlib import Path

import pytest

from lrdoctor.read.ingest import load_runs
from lrdoctor.read.settings import canonical_key, is_seed, settings_from_mapping, settings_from_names

SWEEPS = Path(__file__).resolve().parents[1] / "real_sweeps"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("lr=3e-4_ent=0.0_seed=100", {"learning_rate": 3e-4, "ent_coef": 0.0, "seed": 100}),
        ("lr3e-4_seed_2", {"learning_rate": 3e-4, "seed": 2}),
        ("arch=graph_free_lr=1e-3", {"arch": "graph_free", "learning_rate": 1e-3}),
        ("CartPole-v1__ppo_atari_lstm__3__1700000000", {"exp_name": "ppo_atari_lstm", "seed": 3}),
        ("clip0.3-seed7", {"clip_range": 0.3, "seed": 7}),
        ("use_sde=True_seed=100", {"use_sde": True, "seed": 100}),
        ("lr-3e-4_seed-2", {"learning_rate": 3e-4, "seed": 2}),
        ("RecurrentPPO_CartPole-v1_lr1e-2_ep10_seed102_1", {"learning_rate": 1e-2, "seed": 102}),
        ("PPO_1", {}),
        ("RecurrentPPO_2", {}),
        ("run_v2", {}),
    ],
)
def test_names(name, expected):
    assert {k: v.value for k, v in settings_from_names([name]).items()} == expected


def test_library_spellings_share_one_key():
    assert {canonical_key(k) for k in ("clip_range", "clip_coef", "ppo.clip_param", "e_clip")} == {"clip_range"}
    assert canonical_key("policy_kwargs.ortho_init") == "policy_kwargs.ortho_init"
    assert is_seed("seed") and is_seed("env.seed") and not is_seed("seedling_rate")


def test_bookkeeping_keys_are_not_settings_and_the_shallowest_spelling_wins():
    found = settings_from_mapping(
        {"lr": 1e-3, "critic": {"lr": 3e-3}, "run_name": "x", "log_dir": "/tmp/x"}, lambda path: ".".join(path)
    )
    assert found["learning_rate"].value == 1e-3 and found["critic.lr"].value == 3e-3
    assert "run_name" not in found and "log_dir" not in found


def test_wandb_config_values_are_read_through_their_wrapper():
    found = settings_from_mapping(
        {"_wandb": {"value": {"cli_version": "0.19"}}, "learning_rate": {"desc": None, "value": 3e-4},
         "clip_coef": {"value": 0.2}}, lambda path: ".".join(map(str, path)))
    assert {k: v.value for k, v in found.items()} == {"learning_rate": 3e-4, "clip_range": 0.2}


def test_a_real_run_declares_its_settings_from_its_config_then_its_name():
    (run,) = load_runs(SWEEPS / "lr=3e-2_ent=0.01_seed=101", use_cache=False)
    assert run.settings["learning_rate"].value == 0.03
    assert run.settings["learning_rate"].source == "PPO_1/config.yaml:8 learning_rate"
    assert run.settings["clip_range"].source == "PPO_1/config.yaml:15 clip_range"
    assert run.settings["seed"].value == 101 and run.settings["lr_shape"].value == "constant"
