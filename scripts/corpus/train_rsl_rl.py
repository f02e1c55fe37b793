"""Make the rsl_rl run of tests/real_runs/rsl_rl/: PPO with a recurrent (GRU) actor and critic
on gymnasium Pendulum-v1, through rsl_rl's own OnPolicyRunner and its TensorBoard writer.

rsl_rl trains any environment that implements its ``rsl_rl.env.VecEnv`` interface; users wrap
their simulator in it (Isaac Lab's RslRlVecEnvWrapper is the best known such wrapper). Here
a small wrapper puts 16 gymnasium Pendulum-v1 copies (a SyncVectorEnv in SAME_STEP autoreset
mode, so a finished env is reset in the step that ends it, as rsl_rl expects) behind that
interface. rsl_rl 5.x only has continuous output distributions (Gaussian, Beta), hence
Pendulum rather than CartPole.

The train_cfg dict is in rsl_rl 5.x's own format (``class_name`` keys for the algorithm,
actor, critic and distribution; ``obs_groups``). rsl_rl takes ``log_dir`` from its caller;
the folder name ``<YYYY-MM-DD_HH-MM-SS>_<run_name>`` is the one Isaac Lab's rsl_rl train
script gives it. rsl_rl itself writes only the event file, ``model_<it>.pt`` checkpoints
(deleted here) and ``git/<repo>.diff`` files for the repos it finds (none here: a pip-installed
rsl_rl lives in no git repository, so ``git/`` stays empty and is removed). It saves no
config file of its own (Isaac Lab adds ``params/agent.yaml``; that is not rsl_rl).

    python3 -m venv /work/venvs/rslrl
    /work/venvs/rslrl/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/rslrl/bin/pip install -r scripts/corpus/requirements-rsl_rl.txt
    /work/venvs/rslrl/bin/python scripts/corpus/train_rsl_rl.py
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tensordict import TensorDict

from rsl_rl.env import VecEnv
from rsl_rl.runners import OnPolicyRunner

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "rsl_rl"
SEED = 105
NUM_ENVS = 16
ITERATIONS = 60

TRAIN_CFG = {
    "seed": SEED,
    "run_name": "gru_pendulum",
    "num_steps_per_env": 64,
    "save_interval": 1000,
    "logger": "tensorboard",
    "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
    "algorithm": {
        "class_name": "PPO",
        "num_learning_epochs": 5,
        "num_mini_batches": 4,
        "clip_param": 0.2,
        "gamma": 0.95,
        "lam": 0.95,
        "value_loss_coef": 1.0,
        "entropy_coef": 0.0,
        "learning_rate": 1.0e-3,
        "max_grad_norm": 1.0,
        "use_clipped_value_loss": True,
        "schedule": "adaptive",
        "desired_kl": 0.01,
    },
    "actor": {
        "class_name": "RNNModel",
        "hidden_dims": [64, 64],
        "activation": "elu",
        "obs_normalization": True,
        "rnn_type": "gru",
        "rnn_hidden_dim": 64,
        "rnn_num_layers": 1,
        "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "scalar"},
    },
    "critic": {
        "class_name": "RNNModel",
        "hidden_dims": [64, 64],
        "activation": "elu",
        "obs_normalization": True,
        "rnn_type": "gru",
        "rnn_hidden_dim": 64,
        "rnn_num_layers": 1,
    },
}


class GymnasiumVecEnv(VecEnv):
    """rsl_rl VecEnv over a gymnasium SyncVectorEnv (continuous actions)."""

    def __init__(self, env_id: str, num_envs: int, seed: int) -> None:
        self.env = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
        )
        self.num_envs = num_envs
        self.num_actions = int(np.prod(self.env.single_action_space.shape))
        self.max_episode_length = self.env.spec.max_episode_steps if self.env.spec else 200
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long)
        self.device = "cpu"
        self.cfg = {"env_id": env_id, "num_envs": num_envs, "seed": seed}
        obs, _ = self.env.reset(seed=seed)
        self._obs = self._wrap(obs)

    @staticmethod
    def _wrap(obs: np.ndarray) -> TensorDict:
        t = torch.as_tensor(obs, dtype=torch.float32)
        return TensorDict({"policy": t}, batch_size=[t.shape[0]])

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor):
        obs, rew, term, trunc, _ = self.env.step(actions.detach().cpu().numpy())
        self._obs = self._wrap(obs)
        dones = torch.as_tensor(np.logical_or(term, trunc), dtype=torch.long)
        self.episode_length_buf += 1
        self.episode_length_buf[dones.bool()] = 0
        extras = {"time_outs": torch.as_tensor(trunc, dtype=torch.bool)}
        return self._obs, torch.as_tensor(rew, dtype=torch.float32), dones, extras


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    log_dir = OUT / f"{stamp}_{TRAIN_CFG['run_name']}"
    env = GymnasiumVecEnv("Pendulum-v1", NUM_ENVS, SEED)
    runner = OnPolicyRunner(env, TRAIN_CFG, log_dir=str(log_dir), device="cpu")
    runner.learn(num_learning_iterations=ITERATIONS)
    # checkpoints and the (empty) git-diff folder are not part of the corpus
    for p in log_dir.glob("model_*.pt"):
        p.unlink()
    git_dir = log_dir / "git"
    if git_dir.is_dir() and not any(git_dir.iterdir()):
        shutil.rmtree(git_dir)
    print(log_dir)


if __name__ == "__main__":
    main()
