"""A CleanRL-style PPO loop (one file, no framework) with lrdoctor's Monitor in it: the three
lines marked ``# lrdoctor`` are all it takes. Written for lrdoctor's docs and tests, in the
shape of CleanRL's ppo.py, not copied from it.

At the default, too-high constant LR (5e-2, 20 epochs per rollout) the KL runs away within a
few updates; the monitor's collapse forecast (LRD015) fires and ``on_warning="lower_lr"``
switches the optimizer to the recommended warmup schedule from that step.

    python docs/examples/cleanrl_style_ppo.py --total-timesteps 20480 --seed 100
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from lrdoctor.live.monitor import Monitor


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--total-timesteps", type=int, default=40_960)
    parser.add_argument("--learning-rate", type=float, default=5e-2)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--update-epochs", type=int, default=20)
    parser.add_argument("--minibatch-size", type=int, default=128)
    parser.add_argument("--on-warning", default="lower_lr", choices=["stop", "lower_lr"])
    return parser.parse_args(argv)


class Agent(nn.Module):
    def __init__(self, observations: int, actions: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(nn.Linear(observations, 64), nn.Tanh(), nn.Linear(64, 1))
        self.actor = nn.Sequential(nn.Linear(observations, 64), nn.Tanh(), nn.Linear(64, actions))

    def value(self, x):
        return self.critic(x).squeeze(-1)

    def act(self, x, action=None):
        dist = Categorical(logits=self.actor(x))
        action = dist.sample() if action is None else action
        return action, dist.log_prob(action), dist.entropy(), self.value(x)


def main(argv=None) -> Monitor:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(args.num_envs)])
    agent = Agent(envs.single_observation_space.shape[0], envs.single_action_space.n)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    monitor = Monitor("cleanrl_ppo", architecture="mlp", total_steps=args.total_timesteps,  # lrdoctor
                      on_warning=args.on_warning, optimizer=optimizer)

    obs = torch.zeros((args.num_steps, args.num_envs) + envs.single_observation_space.shape)
    actions, logprobs, rewards, dones, values = (torch.zeros((args.num_steps, args.num_envs)) for _ in range(5))
    next_obs = torch.tensor(envs.reset(seed=args.seed)[0], dtype=torch.float32)
    next_done = torch.zeros(args.num_envs)
    episode_returns, running = [], np.zeros(args.num_envs)
    global_step = 0
    for _ in range(args.total_timesteps // (args.num_steps * args.num_envs)):
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.act(next_obs)
            actions[step], logprobs[step], values[step] = action, logprob, value
            next_obs, reward, terminated, truncated, _ = envs.step(action.numpy())
            rewards[step] = torch.tensor(reward, dtype=torch.float32)
            running += reward
            done = np.logical_or(terminated, truncated)
            episode_returns += running[done].tolist()
            running[done] = 0
            next_obs, next_done = torch.tensor(next_obs, dtype=torch.float32), torch.tensor(done, dtype=torch.float32)

        with torch.no_grad():  # generalised advantage estimation, gamma 0.99, lambda 0.95
            advantages, last = torch.zeros_like(rewards), 0
            next_value = agent.value(next_obs)
            for t in reversed(range(args.num_steps)):
                not_done = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
                following = next_value if t == args.num_steps - 1 else values[t + 1]
                delta = rewards[t] + 0.99 * following * not_done - values[t]
                advantages[t] = last = delta + 0.99 * 0.95 * not_done * last
            returns = advantages + values

        b_obs = obs.reshape((-1,) + envs.single_observation_space.shape)
        b_actions, b_logprobs = actions.reshape(-1), logprobs.reshape(-1)
        b_advantages, b_returns = advantages.reshape(-1), returns.reshape(-1)
        batch = len(b_obs)
        for _ in range(args.update_epochs):
            order = torch.randperm(batch)
            for start in range(0, batch, args.minibatch_size):
                mb = order[start:start + args.minibatch_size]
                _, newlogprob, entropy, newvalue = agent.act(b_obs[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()  # the k3 estimator, as CleanRL logs it
                adv = (b_advantages[mb] - b_advantages[mb].mean()) / (b_advantages[mb].std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 0.8, 1.2)).mean()
                v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                loss = pg_loss + 0.5 * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()

        metrics = {"lr": optimizer.param_groups[0]["lr"], "kl": approx_kl.item(), "entropy": entropy.mean().item(),
                   "value_loss": v_loss.item(), "episode_return": np.mean(episode_returns[-100:] or [0.0])}
        for finding in monitor.update(global_step, metrics):  # lrdoctor
            print(f"step {global_step}: {finding.code} {finding.severity.value}: {finding.message}")
        if monitor.should_stop:  # lrdoctor
            break
    envs.close()
    return monitor


if __name__ == "__main__":
    main()
