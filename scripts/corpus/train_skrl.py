"""Make the skrl runs of tests/real_runs/skrl/: PPO (feed-forward) and PPO_RNN (GRU).

Both runs use skrl's own agents, its SequentialTrainer and its own TensorBoard writer
(skrl.utils.tensorboard.SummaryWriter), unmodified:

* ``ppo``: skrl's ``Runner`` built from a yaml-like cfg dict (the form skrl's runner and
  Isaac Lab's skrl configs use), feed-forward Gaussian policy/value from skrl's model
  instantiators, ``KLAdaptiveLR`` scheduler so skrl logs ``Learning / Learning rate``,
  on gymnasium Pendulum-v1.
* ``ppo_rnn``: ``PPO_RNN`` agent (the Runner does not know PPO_RNN) with GRU
  policy/value models written against skrl's Model/Mixin API, on CartPole-v1.

skrl names each run folder ``<YY-MM-DD_HH-MM-SS-ffffff>_<AgentClass>`` under
``experiment.directory``; that name is kept. skrl saves no config file of its own (only
the event file and ``checkpoints/``); checkpoints are disabled here.

    python3 -m venv /work/venvs/skrl
    /work/venvs/skrl/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/skrl/bin/pip install -r scripts/corpus/requirements-skrl.txt
    /work/venvs/skrl/bin/python scripts/corpus/train_skrl.py {ppo,ppo_rnn}
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import torch
import torch.nn as nn

from skrl.agents.torch.ppo import PPO_CFG, PPO_RNN
from skrl.envs.wrappers.torch import wrap_env
from skrl.memories.torch import RandomMemory
from skrl.models.torch import CategoricalMixin, DeterministicMixin, Model
from skrl.trainers.torch import SequentialTrainer, SequentialTrainerCfg
from skrl.utils import set_seed
from skrl.utils.runner.torch import Runner

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "skrl"


def make_env(env_id: str, num_envs: int, seed: int):
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    env.reset(seed=seed)  # seeds the sub-envs' RNGs; skrl's wrapper resets again without a seed
    return wrap_env(env, wrapper="gymnasium")


# --------------------------------------------------------------------------- PPO + Runner
PPO_RUNNER_CFG = {
    "seed": 101,
    "models": {
        "separate": False,
        "policy": {
            "class": "GaussianMixin",
            "clip_actions": False,
            "clip_log_std": True,
            "min_log_std": -20.0,
            "max_log_std": 2.0,
            "initial_log_std": 0.0,
            "network": [{"name": "net", "input": "OBSERVATIONS", "layers": [64, 64], "activations": "elu"}],
            "output": "2 * tanh(ACTIONS)",  # Pendulum torque range is [-2, 2]
        },
        "value": {
            "class": "DeterministicMixin",
            "clip_actions": False,
            "network": [{"name": "net", "input": "OBSERVATIONS", "layers": [64, 64], "activations": "elu"}],
            "output": "ONE",
        },
    },
    "memory": {"class": "RandomMemory", "memory_size": -1},
    "agent": {
        "class": "PPO",
        "rollouts": 256,
        "learning_epochs": 8,
        "mini_batches": 8,
        "discount_factor": 0.95,
        "gae_lambda": 0.95,
        "learning_rate": 1.0e-3,
        "learning_rate_scheduler": "KLAdaptiveLR",
        "learning_rate_scheduler_kwargs": {"kl_threshold": 0.008},
        "observation_preprocessor": "RunningStandardScaler",
        "observation_preprocessor_kwargs": None,
        "value_preprocessor": "RunningStandardScaler",
        "value_preprocessor_kwargs": None,
        "grad_norm_clip": 0.5,
        "ratio_clip": 0.2,
        "value_clip": 0.2,
        "entropy_loss_scale": 0.001,
        "value_loss_scale": 1.0,
        "kl_threshold": 0.0,
        "experiment": {
            "directory": str(OUT),
            "experiment_name": "",
            "write_interval": 256,
            "checkpoint_interval": 0,
        },
    },
    "trainer": {"class": "SequentialTrainer", "timesteps": 20480, "disable_progressbar": True, "headless": True},
}


def run_ppo() -> None:
    env = make_env("Pendulum-v1", num_envs=4, seed=PPO_RUNNER_CFG["seed"])
    runner = Runner(env, PPO_RUNNER_CFG)
    runner.run("train")
    print(runner.agent.experiment_dir)


# --------------------------------------------------------------------------- PPO_RNN (GRU)
class GRUBody(nn.Module):
    """GRU over skrl's flat (num_envs * sequence_length) batches, resetting at episode ends."""

    def __init__(self, num_obs: int, num_envs: int, hidden: int, seq_len: int) -> None:
        super().__init__()
        self.num_envs, self.hidden, self.seq_len = num_envs, hidden, seq_len
        self.gru = nn.GRU(input_size=num_obs, hidden_size=hidden, num_layers=1, batch_first=True)

    def spec(self) -> dict:
        return {"rnn": {"sequence_length": self.seq_len, "sizes": [(1, self.num_envs, self.hidden)]}}

    def forward(self, inputs: dict, training: bool):
        obs = inputs["observations"]
        h = inputs["rnn"][0]
        if training:
            x = obs.view(-1, self.seq_len, obs.shape[-1])  # (N, L, obs)
            h = h.view(1, -1, self.seq_len, h.shape[-1])[:, :, 0, :].contiguous()  # state at sequence start
            done = inputs.get("terminated", None)
            truncated = inputs.get("truncated", None)
            if done is not None and truncated is not None:
                done = done | truncated
            if done is not None and torch.any(done):
                done = done.view(-1, self.seq_len)
                cuts = [0] + (done[:, :-1].any(dim=0).nonzero(as_tuple=True)[0] + 1).tolist() + [self.seq_len]
                outs = []
                for a, b in zip(cuts[:-1], cuts[1:]):
                    y, h = self.gru(x[:, a:b, :], h)
                    h = h.clone()
                    h[:, done[:, b - 1], :] = 0.0
                    outs.append(y)
                y = torch.cat(outs, dim=1)
            else:
                y, h = self.gru(x, h)
        else:
            y, h = self.gru(obs.view(-1, 1, obs.shape[-1]), h)
        return torch.flatten(y, 0, 1), h


class RNNPolicy(CategoricalMixin, Model):
    def __init__(self, observation_space, action_space, device, num_envs, hidden=64, seq_len=16):
        Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
        CategoricalMixin.__init__(self, unnormalized_log_prob=True)
        self.body = GRUBody(self.num_observations, num_envs, hidden, seq_len)
        self.head = nn.Sequential(nn.Linear(hidden, 64), nn.Tanh(), nn.Linear(64, self.num_actions))

    def get_specification(self):
        return self.body.spec()

    def compute(self, inputs, role=""):
        y, h = self.body(inputs, self.training)
        return self.head(y), {"rnn": [h]}


class RNNValue(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, num_envs, hidden=64, seq_len=16):
        Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
        DeterministicMixin.__init__(self, clip_actions=False)
        self.body = GRUBody(self.num_observations, num_envs, hidden, seq_len)
        self.head = nn.Sequential(nn.Linear(hidden, 64), nn.Tanh(), nn.Linear(64, 1))

    def get_specification(self):
        return self.body.spec()

    def compute(self, inputs, role=""):
        y, h = self.body(inputs, self.training)
        return self.head(y), {"rnn": [h]}


def run_ppo_rnn() -> None:
    seed, num_envs, timesteps = 102, 4, 12288
    set_seed(seed)
    env = make_env("CartPole-v1", num_envs=num_envs, seed=seed)
    models = {
        "policy": RNNPolicy(env.observation_space, env.action_space, env.device, num_envs),
        "value": RNNValue(env.observation_space, env.action_space, env.device, num_envs),
    }
    cfg = PPO_CFG(
        rollouts=128,
        learning_epochs=4,
        mini_batches=2,
        discount_factor=0.99,
        gae_lambda=0.95,
        learning_rate=1e-3,
        grad_norm_clip=0.5,
        ratio_clip=0.2,
        value_clip=0.2,
        entropy_loss_scale=0.01,
        value_loss_scale=0.5,
    )
    cfg.experiment.directory = str(OUT)
    cfg.experiment.write_interval = 128
    cfg.experiment.checkpoint_interval = 0
    memory = RandomMemory(memory_size=cfg.rollouts, num_envs=num_envs, device=env.device)
    agent = PPO_RNN(
        models=models,
        memory=memory,
        cfg=cfg,
        observation_space=env.observation_space,
        action_space=env.action_space,
        device=env.device,
    )
    trainer = SequentialTrainer(
        env=env,
        agents=agent,
        cfg=SequentialTrainerCfg(timesteps=timesteps, headless=True, disable_progressbar=True),
    )
    trainer.train()
    print(agent.experiment_dir)


if __name__ == "__main__":
    torch.set_num_threads(1)
    which = sys.argv[1] if len(sys.argv) > 1 else "ppo"
    {"ppo": run_ppo, "ppo_rnn": run_ppo_rnn}[which]()
