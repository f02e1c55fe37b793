"""Make the RLlib run of tests/real_runs/rllib/: PPO on RLlib's NEW API stack (RLModule +
Learner + EnvRunner) with an LSTM (``DefaultModelConfig(use_lstm=True)`` passed as the
RLModule's ``model_config``), on CartPole-v1, run through Ray Tune so that Tune writes the
trial folder: its TensorBoard event file (``ray/tune/...`` tags), ``params.json`` /
``params.pkl`` (the algorithm config), ``result.json`` and ``progress.csv``.

Kept tiny: local ray (``num_cpus=1``, bound to 127.0.0.1, no dashboard, no usage stats),
``num_env_runners=0`` (sampling in the driver-side local EnvRunner), ``num_learners=0``,
a 512-step train batch and 4 training iterations. Tune names the experiment folder
``<storage_path>/<name>/`` and the trial folder ``PPO_CartPole-v1_<trial id>_00000_0_<date>``;
only the trial folder is kept (the experiment-level tuner.pkl / experiment_state-*.json /
basic-variant-state-*.json are Tune bookkeeping and are removed, as are checkpoints).

    python3 -m venv /work/venvs/ray
    /work/venvs/ray/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/ray/bin/pip install -r scripts/corpus/requirements-rllib.txt
    /work/venvs/ray/bin/python scripts/corpus/train_rllib.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "rllib"
NAME = "ppo_lstm_cartpole"
SEED = 107


def main() -> None:
    exp_dir = OUT / NAME
    if exp_dir.exists():
        shutil.rmtree(exp_dir)
    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1)
        .learners(num_learners=0)
        .framework("torch")
        .training(
            lr=1e-3,
            train_batch_size_per_learner=512,
            minibatch_size=128,
            num_epochs=4,
            gamma=0.99,
            lambda_=0.95,
            clip_param=0.2,
            vf_loss_coeff=0.5,
            entropy_coeff=0.0,
            use_kl_loss=True,
            kl_coeff=0.2,
            kl_target=0.01,
        )
        .rl_module(
            model_config=DefaultModelConfig(
                use_lstm=True,
                lstm_cell_size=32,
                max_seq_len=16,
                fcnet_hiddens=[32],
                vf_share_layers=True,
            )
        )
        .debugging(seed=SEED)
    )
    tuner = tune.Tuner(
        "PPO",
        param_space=config,
        run_config=tune.RunConfig(
            name=NAME,
            storage_path=str(OUT),
            stop={"training_iteration": 4},
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False, checkpoint_frequency=0),
            verbose=1,
        ),
    )
    results = tuner.fit()
    trial_dir = Path(results[0].path)
    ray.shutdown()
    # keep only the trial folder's logs and params
    for p in exp_dir.iterdir():
        if p != trial_dir:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in trial_dir.glob("checkpoint_*"):
        shutil.rmtree(p)
    print(trial_dir)


if __name__ == "__main__":
    main()
