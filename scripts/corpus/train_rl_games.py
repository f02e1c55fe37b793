"""Make the rl_games run of tests/real_runs/rl_games/: PPO (a2c_discrete) with an LSTM
(``network.rnn``) on rl_games' own ``CartPoleMaskedVelocity`` task (CartPole-v1 with the two
velocity entries zeroed by rl_games' MaskVelocityWrapper, so memory is needed), through
rl_games' ``Runner`` with a yaml-like ``params`` dict.

rl_games registers its gym tasks with ``vecenv_type: RAY`` (one Ray actor per env). Rather
than pull Ray into this venv, the script registers an in-process vecenv, ``LOCAL``, the same
way Isaac Gym/Isaac Lab register theirs (``vecenv.register`` + ``env_configurations.register``):
it holds N of rl_games' own ``RayWorker`` objects (the per-env wrapper that steps and
auto-resets) and concatenates their results exactly as RayVecEnv does, only without Ray.

rl_games lays a run out as ``<train_dir>/<name>_<DD-HH-MM-SS>/`` with ``summaries/`` (the
tensorboardX event file) and ``nn/`` (``.pth`` checkpoints; deleted here). It writes no config
file into the run (Isaac Lab adds params/agent.yaml; that is not rl_games).

    python3 -m venv /work/venvs/rlgames
    /work/venvs/rlgames/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/rlgames/bin/pip install -r scripts/corpus/requirements-rl_games.txt
    /work/venvs/rlgames/bin/python scripts/corpus/train_rl_games.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from rl_games.common import env_configurations, vecenv, wrappers
from rl_games.common.gym_compat import make
from rl_games.common.ivecenv import IVecEnv
from rl_games.common.vecenv import RayWorker
from rl_games.torch_runner import Runner

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "rl_games"
SEED = 106


class LocalVecEnv(IVecEnv):
    """In-process stand-in for rl_games' RayVecEnv: same RayWorker objects, no Ray actors."""

    def __init__(self, config_name: str, num_actors: int, **kwargs) -> None:
        seed = kwargs.pop("seed", None)
        self.workers = [RayWorker(config_name, kwargs) for _ in range(num_actors)]
        if seed is not None:
            for i, w in enumerate(self.workers):
                w.env.reset(seed=seed + i)  # gymnasium envs are seeded through reset()
                w.env.action_space.seed(seed + i)

    def step(self, actions):
        res = [w.step(a) for a, w in zip(actions, self.workers)]
        obs, rew, done, info = zip(*res)
        return np.stack(obs), np.stack(rew), np.stack(done), list(info)

    def reset(self):
        return np.stack([w.reset() for w in self.workers])

    def get_env_info(self):
        return self.workers[0].get_env_info()

    def get_number_of_agents(self):
        return 1

    def close(self):
        for w in self.workers:
            w.close()


vecenv.register("LOCAL", lambda config_name, num_actors, **kw: LocalVecEnv(config_name, num_actors, **kw))
env_configurations.register(
    "CartPoleMaskedVelocity-local",
    {
        "vecenv_type": "LOCAL",
        "env_creator": lambda **kw: wrappers.MaskVelocityWrapper(make("CartPole-v1"), "CartPole-v1"),
    },
)

PARAMS = {
    "params": {
        "seed": SEED,
        "algo": {"name": "a2c_discrete"},
        "model": {"name": "discrete_a2c"},
        "network": {
            "name": "actor_critic",
            "separate": False,
            "space": {"discrete": {}},
            "mlp": {
                "units": [64],
                "activation": "elu",
                "initializer": {"name": "default"},
                "regularizer": {"name": "None"},
            },
            "rnn": {"name": "lstm", "units": 64, "layers": 1, "before_mlp": True, "concat_input": False},
        },
        "config": {
            "name": "cartpole_masked_lstm",
            "env_name": "CartPoleMaskedVelocity-local",
            "env_config": {},
            "train_dir": str(OUT),
            "device": "cpu",
            "torch_compile": False,
            "reward_shaper": {"scale_value": 0.1},
            "normalize_advantage": True,
            "normalize_input": False,
            "normalize_value": False,
            "gamma": 0.99,
            "tau": 0.95,
            "learning_rate": 1e-3,
            "lr_schedule": "adaptive",
            "kl_threshold": 0.008,
            "score_to_win": 500,
            "max_epochs": 50,
            "save_best_after": 1000,
            "save_frequency": 0,
            "grad_norm": 0.5,
            "entropy_coef": 0.01,
            "truncate_grads": True,
            "e_clip": 0.2,
            "clip_value": False,
            "num_actors": 8,
            "horizon_length": 128,
            "minibatch_size": 256,
            "mini_epochs": 4,
            "critic_coef": 2,
            "seq_length": 16,
            "bounds_loss_coef": 0.0,
            "print_stats": False,
        },
    }
}


def main() -> None:
    torch.set_num_threads(1)
    runner = Runner()
    runner.load(PARAMS)
    runner.run({"train": True, "play": False})
    # checkpoints are not part of the corpus
    for nn_dir in OUT.glob("*/nn"):
        shutil.rmtree(nn_dir)


if __name__ == "__main__":
    main()
