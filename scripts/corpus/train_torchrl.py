"""Make the TorchRL run of tests/real_runs/torchrl/: clipped PPO on CartPole-v1.

TorchRL has no packaged "PPO trainer + config" entry point of the kind skrl/rsl_rl/rl_games
have: its reference PPO lives in the repository's sota-implementations/ppo/ scripts, which
wire up torchrl's own pieces in a short loop. This script does the same, written fresh:
torchrl's GymEnv + StepCounter/RewardSum transforms, Collector (called SyncDataCollector before 0.14), GAE, ClipPPOLoss,
a TensorDictReplayBuffer with SamplerWithoutReplacement, and torchrl's own logger built by
``torchrl.record.loggers.get_logger("tensorboard", ...)`` with the run named by
``generate_exp_name`` (``PPO_<exp>_<uuid8>_<yy_mm_dd-HH_MM_SS>``), logging every scalar with
``logger.log_scalar(key, value, collected_frames)`` under ``train/`` and ``eval/`` as the
sota scripts do. The keys are the ones ClipPPOLoss returns (loss_objective, loss_critic,
loss_entropy, entropy, kl_approx, clip_fraction, ESS), the LR, and the episode stats.
torchrl saves no config file; the run directory holds only the event file.

    python3 -m venv /work/venvs/torchrl
    /work/venvs/torchrl/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/torchrl/bin/pip install -r scripts/corpus/requirements-torchrl.txt
    /work/venvs/torchrl/bin/python scripts/corpus/train_torchrl.py
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import nn

from torchrl.collectors import Collector  # torchrl 0.14 name of what was SyncDataCollector
from torchrl.data import LazyTensorStorage, TensorDictReplayBuffer
from torchrl.data.replay_buffers.samplers import SamplerWithoutReplacement
from torchrl.envs import ExplorationType, GymEnv, RewardSum, StepCounter, TransformedEnv, set_exploration_type
from torchrl.modules import OneHotCategorical, ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE
from torchrl.record.loggers import generate_exp_name, get_logger

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "torchrl"

CFG = {
    "env_name": "CartPole-v1",
    "seed": 104,
    "frames_per_batch": 1024,
    "total_frames": 40_960,
    "mini_batch_size": 256,
    "ppo_epochs": 4,
    "lr": 1e-3,
    "anneal_lr": True,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_epsilon": 0.2,
    "critic_coeff": 0.5,
    "entropy_coeff": 0.01,
    "max_grad_norm": 0.5,
    "test_interval": 8192,
    "num_test_episodes": 3,
}


def make_env(seed: int):
    env = TransformedEnv(GymEnv(CFG["env_name"], device="cpu"))
    env.append_transform(StepCounter())
    env.append_transform(RewardSum())
    env.set_seed(seed)
    return env


def make_models(env):
    n_obs = env.observation_spec["observation"].shape[-1]
    n_act = env.action_spec.shape[-1]
    actor_net = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, n_act))
    actor = ProbabilisticActor(
        TensorDictModule(actor_net, in_keys=["observation"], out_keys=["logits"]),
        in_keys=["logits"],
        spec=env.action_spec,
        distribution_class=OneHotCategorical,
        return_log_prob=True,
        default_interaction_type=ExplorationType.RANDOM,
    )
    critic_net = nn.Sequential(nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    critic = ValueOperator(critic_net, in_keys=["observation"])
    return actor, critic


def evaluate(actor, env, n: int) -> float:
    rewards = []
    for _ in range(n):
        td = env.rollout(max_steps=500, policy=actor, auto_cast_to_device=True, break_when_any_done=True)
        rewards.append(td["next", "episode_reward"][td["next", "done"]].item())
    return sum(rewards) / len(rewards)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(CFG["seed"])
    env = make_env(CFG["seed"])
    test_env = make_env(CFG["seed"] + 1000)
    actor, critic = make_models(env)

    collector = Collector(
        create_env_fn=env,
        policy=actor,
        frames_per_batch=CFG["frames_per_batch"],
        total_frames=CFG["total_frames"],
        device="cpu",
    )
    buffer = TensorDictReplayBuffer(
        storage=LazyTensorStorage(CFG["frames_per_batch"]),
        sampler=SamplerWithoutReplacement(),
        batch_size=CFG["mini_batch_size"],
    )
    adv_module = GAE(gamma=CFG["gamma"], lmbda=CFG["gae_lambda"], value_network=critic, average_gae=False)
    loss_module = ClipPPOLoss(
        actor_network=actor,
        critic_network=critic,
        clip_epsilon=CFG["clip_epsilon"],
        entropy_coeff=CFG["entropy_coeff"],
        critic_coeff=CFG["critic_coeff"],
        normalize_advantage=True,
    )
    optim = torch.optim.Adam(loss_module.parameters(), lr=CFG["lr"], eps=1e-5)

    exp_name = generate_exp_name("PPO", f"corpus_{CFG['env_name']}")
    logger = get_logger("tensorboard", logger_name=str(OUT), experiment_name=exp_name)

    n_minibatches = CFG["frames_per_batch"] // CFG["mini_batch_size"]
    total_updates = (CFG["total_frames"] // CFG["frames_per_batch"]) * CFG["ppo_epochs"] * n_minibatches
    n_updates, collected_frames = 0, 0
    keys = ("loss_objective", "loss_critic", "loss_entropy", "entropy", "kl_approx", "clip_fraction", "ESS")
    sampling_start = time.time()
    for i, data in enumerate(collector):
        log = {}
        sampling_time = time.time() - sampling_start
        collected_frames += data.numel()
        done = data["next", "done"].squeeze(-1)
        if done.any():
            log["train/reward"] = data["next", "episode_reward"][done].mean().item()
            log["train/episode_length"] = data["next", "step_count"][done].float().mean().item()

        t0 = time.time()
        losses = TensorDict({}, batch_size=[CFG["ppo_epochs"], n_minibatches])
        for epoch in range(CFG["ppo_epochs"]):
            with torch.no_grad():
                data = adv_module(data)
            buffer.extend(data.reshape(-1))
            for k, batch in enumerate(buffer):
                alpha = 1.0 - n_updates / total_updates if CFG["anneal_lr"] else 1.0
                for g in optim.param_groups:
                    g["lr"] = CFG["lr"] * alpha
                n_updates += 1
                loss = loss_module(batch)
                losses[epoch, k] = loss.select(*keys).detach()
                total = loss["loss_objective"] + loss["loss_critic"] + loss["loss_entropy"]
                total.backward()
                torch.nn.utils.clip_grad_norm_(loss_module.parameters(), CFG["max_grad_norm"])
                optim.step()
                optim.zero_grad()
        for key, value in losses.apply(lambda x: x.float().mean(), batch_size=[]).items():
            log[f"train/{key}"] = value.item()
        log["train/lr"] = alpha * CFG["lr"]
        log["train/clip_epsilon"] = CFG["clip_epsilon"]
        log["train/sampling_time"] = sampling_time
        log["train/training_time"] = time.time() - t0

        if (i * CFG["frames_per_batch"]) // CFG["test_interval"] < (collected_frames // CFG["test_interval"]):
            actor.eval()
            with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
                log["eval/reward"] = evaluate(actor, test_env, CFG["num_test_episodes"])
            actor.train()

        for key, value in log.items():
            logger.log_scalar(key, value, collected_frames)
        collector.update_policy_weights_()
        sampling_start = time.time()

    collector.shutdown()
    logger.experiment.close()
    print(logger.log_dir)


if __name__ == "__main__":
    main()
