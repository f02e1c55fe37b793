"""Train the REAL sample run: sb3-contrib RecurrentPPO (MlpLstmPolicy) on CartPole-v1, on a CPU.

The run is committed under sample_logs/sb3_recurrentppo_cartpole/RecurrentPPO_1/ so that
lrdoctor has logs written by SB3 itself to read: SB3's TensorBoard event file and its
progress.csv, side by side in one run directory (the "RecurrentPPO_1" name is the one
SB3 gives a first run under ``tensorboard_log=``).

Hyper-parameters are RecurrentPPO's defaults, including its constant learning rate of
3e-4, with 8 environments; nothing is tuned to make the logs look a particular way.
Needs the pins in scripts/requirements-sb3.txt (torch and SB3 are not lrdoctor
dependencies). Takes about seven minutes of CPU time on one core (about 150 env steps a
second; longer on a busy machine):

    python3 -m venv /tmp/venv-sb3 && . /tmp/venv-sb3/bin/activate
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    pip install -r scripts/requirements-sb3.txt
    python scripts/train_recurrent_ppo.py [RUN_DIR]

Re-running gives the same numbers up to floating-point non-determinism in torch;
the wall times and the event file's name (time, host, pid) always differ.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

SEED = 7
ENV_ID = "CartPole-v1"
N_ENVS = 8
TOTAL_TIMESTEPS = 60_000
DEFAULT_RUN_DIR = Path(__file__).resolve().parent.parent / "sample_logs/sb3_recurrentppo_cartpole/RecurrentPPO_1"


def train(run_dir: Path, total_timesteps: int = TOTAL_TIMESTEPS) -> RecurrentPPO:
    """Train and log into ``run_dir`` (replaced if it exists, so old event files never mix in)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    torch.set_num_threads(1)  # small networks: more threads only add contention
    env = make_vec_env(ENV_ID, n_envs=N_ENVS, seed=SEED)
    model = RecurrentPPO("MlpLstmPolicy", env, seed=SEED, device="cpu", verbose=0)
    model.set_logger(configure(str(run_dir), ["csv", "tensorboard"]))
    model.learn(total_timesteps=total_timesteps)
    env.close()
    return model


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RUN_DIR
    trained = train(target)
    print(f"{target}: {trained.num_timesteps} steps, learning_rate={trained.learning_rate}")
