"""Make the sb3-contrib RecurrentPPO runs of tests/real_runs/sb3_contrib/.

sb3-contrib's RecurrentPPO (MlpLstmPolicy) on CartPole-v1, logged by SB3's own TensorBoard
output (``tensorboard_log=`` + ``tb_log_name=``, so SB3 names the run folder
``<tb_log_name>_<n>``). SB3 saves no config file of its own (RL Zoo adds config.yml/args.yml;
that is not SB3), and nothing but the event file is written here.

Two presets:

* ``collapse``: a constant learning rate of 1e-2 with 20 epochs over minibatches of 64,
  so each update moves the policy far (approx_kl mostly well above 0.02): the return climbs,
  peaks, then falls apart. Settings and seed were picked by trying them (see
  tests/real_runs/README.md): 5e-3 x 15 epochs (seed 100) still learned cleanly to ~295 in
  40K steps with KL mostly ~0.01; 1e-2 x 20 epochs (seed 100) gives the collapse.
* ``healthy``: the same network at a constant 3e-4 with fewer epochs, for contrast.

    python3 -m venv /work/venvs/sb3
    /work/venvs/sb3/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/sb3/bin/pip install -r scripts/corpus/requirements-sb3_contrib.txt
    /work/venvs/sb3/bin/python scripts/corpus/train_sb3_contrib.py {collapse,healthy} [--seed N] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "sb3_contrib"

PRESETS = {
    "collapse": dict(
        seed=100,
        total_timesteps=40_960,
        hyper=dict(
            learning_rate=1e-2,
            n_steps=128,
            batch_size=64,
            n_epochs=20,
            gamma=0.99,
            gae_lambda=0.95,
            clip_range=0.2,
            ent_coef=0.0,
            vf_coef=0.5,
            max_grad_norm=0.5,
        ),
    ),
    "healthy": dict(
        seed=100,
        total_timesteps=40_960,
        hyper=dict(
            learning_rate=3e-4,
            n_steps=128,
            batch_size=128,
            n_epochs=4,
            gamma=0.99,
            gae_lambda=0.95,
            clip_range=0.2,
            ent_coef=0.0,
            vf_coef=0.5,
            max_grad_norm=0.5,
        ),
    ),
}
N_ENVS = 4
POLICY_KWARGS = dict(lstm_hidden_size=64, net_arch=dict(pi=[64], vf=[64]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    p = PRESETS[a.preset]
    seed = p["seed"] if a.seed is None else a.seed
    steps = p["total_timesteps"] if a.steps is None else a.steps
    assert seed >= 100
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        env,
        seed=seed,
        device="cpu",
        verbose=0,
        tensorboard_log=str(a.out),
        policy_kwargs=POLICY_KWARGS,
        **p["hyper"],
    )
    lr = p["hyper"]["learning_rate"]
    model.learn(total_timesteps=steps, tb_log_name=f"RecurrentPPO_{a.preset}_lr{lr:g}_seed{seed}")
    env.close()


if __name__ == "__main__":
    main()
