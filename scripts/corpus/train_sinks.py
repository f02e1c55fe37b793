"""One CleanRL-style PPO run on CartPole-v1, logged to every sink lrdoctor reads at once.

The loop follows CleanRL's ppo.py (a fresh script in its shape: an MLP actor-critic,
GAE, clipped surrogate, k1/k3 KL, linearly annealed LR) and logs each value the way
CleanRL's ``--track`` does: a torch ``SummaryWriter`` (TensorBoard) that W&B mirrors
with ``sync_tensorboard=True`` (offline: ``WANDB_MODE=offline``), with the run's
arguments as its W&B config and as a ``hyperparameters`` text summary. The same
numbers go to MLflow twice, to a SQLite store (``sqlite:///.../mlflow.db``, the
default backend of MLflow 3.7+) and to a file store (``mlruns/``), with the
arguments as params. So one run, five records of it; the tests compare what lrdoctor
says of each.

Then, from the finished files:
- ``wandb_truncated/``: a copy of the W&B run directory whose ``.wandb`` file is cut
  in the middle of a record (what a reader meets while the run is still written);
- a second, tiny MLflow run in both stores, ``nan_metrics``, whose approx KL is NaN
  from its fourth update on (logged deliberately, labelled synthetic: it is there to
  pin how each store writes a NaN).

Usage (a venv with torch==2.13.0, gymnasium, tensorboard, wandb, mlflow-skinny, sqlalchemy, alembic):
    python scripts/corpus/train_sinks.py --out tests/read/sinks --seed 110
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--exp-name", default="ppo")
    parser.add_argument("--env-id", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=110)
    parser.add_argument("--total-timesteps", type=int, default=16384)
    parser.add_argument("--learning-rate", type=float, default=2.5e-4)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128)
    parser.add_argument("--anneal-lr", type=bool, default=True)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--gae-lambda", type=float, default=0.95)
    parser.add_argument("--num-minibatches", type=int, default=4)
    parser.add_argument("--update-epochs", type=int, default=4)
    parser.add_argument("--clip-coef", type=float, default=0.2)
    parser.add_argument("--ent-coef", type=float, default=0.01)
    parser.add_argument("--vf-coef", type=float, default=0.5)
    parser.add_argument("--max-grad-norm", type=float, default=0.5)
    parser.add_argument("--target-kl", type=float, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_SILENT", "true")
    # MLflow 3.7+ refuses its file store unless asked for it: the legacy store is still what many labs have
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import gymnasium as gym
    import numpy as np
    import torch
    import wandb
    from mlflow.tracking import MlflowClient
    from torch import nn
    from torch.distributions.categorical import Categorical
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(1)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    num_iterations = args.total_timesteps // batch_size
    run_name = f"{args.env_id}__{args.exp_name}__{args.seed}__{int(time.time())}"
    config = {k: v for k, v in vars(args).items() if k != "out"}

    wandb.init(project="lrdoctor-corpus", sync_tensorboard=True, config=config, name=run_name,
               dir=str(out), save_code=False, settings=wandb.Settings(x_disable_stats=True, console="off"))
    writer = SummaryWriter(str(out / "runs" / run_name))
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in config.items()))
    sinks = []
    for uri in (f"sqlite:///{out / 'mlflow.db'}", (out / "mlruns").as_uri()):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("cleanrl") or client.get_experiment(client.create_experiment("cleanrl"))
        run = client.create_run(experiment.experiment_id, run_name=run_name)
        for key, value in config.items():
            client.log_param(run.info.run_id, key, value)
        sinks.append((client, run.info.run_id))

    def log(tag: str, value: float, step: int) -> None:
        writer.add_scalar(tag, value, step)
        for client, run_id in sinks:
            client.log_metric(run_id, tag, float(value), step=step)

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    envs = gym.vector.SyncVectorEnv([lambda: gym.wrappers.RecordEpisodeStatistics(gym.make(args.env_id))
                                     for _ in range(args.num_envs)])

    def layer(inputs: int, outputs: int, std: float = 2 ** 0.5) -> nn.Linear:
        linear = nn.Linear(inputs, outputs)
        nn.init.orthogonal_(linear.weight, std)
        nn.init.constant_(linear.bias, 0.0)
        return linear

    obs_dim = int(np.prod(envs.single_observation_space.shape))
    critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
    actor = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                          layer(64, envs.single_action_space.n, 0.01))
    params = list(critic.parameters()) + list(actor.parameters())
    optimizer = torch.optim.Adam(params, lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim))
    actions = torch.zeros((args.num_steps, args.num_envs))
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))
    global_step = 0
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = torch.Tensor(next_obs)
    next_done = torch.zeros(args.num_envs)

    for iteration in range(1, num_iterations + 1):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate
        for step in range(args.num_steps):
            global_step += args.num_envs
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                logits = actor(next_obs)
                distribution = Categorical(logits=logits)
                action = distribution.sample()
                values[step] = critic(next_obs).flatten()
            actions[step], logprobs[step] = action, distribution.log_prob(action)
            next_obs, reward, terminations, truncations, infos = envs.step(action.numpy())
            rewards[step] = torch.tensor(reward).view(-1)
            next_obs, next_done = torch.Tensor(next_obs), torch.Tensor(np.logical_or(terminations, truncations))
            if "episode" in infos:
                for index in np.flatnonzero(infos.get("_episode", [])):
                    log("charts/episodic_return", float(infos["episode"]["r"][index]), global_step)
                    log("charts/episodic_length", float(infos["episode"]["l"][index]), global_step)

        with torch.no_grad():
            next_value = critic(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            last = 0
            for t in reversed(range(args.num_steps)):
                nonterminal = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
                following = next_value if t == args.num_steps - 1 else values[t + 1]
                delta = rewards[t] + args.gamma * following * nonterminal - values[t]
                advantages[t] = last = delta + args.gamma * args.gae_lambda * nonterminal * last
            returns = advantages + values

        b_obs, b_logprobs, b_actions = obs.reshape(-1, obs_dim), logprobs.reshape(-1), actions.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        indices = np.arange(batch_size)
        clipfracs = []
        for _epoch in range(args.update_epochs):
            np.random.shuffle(indices)
            for start in range(0, batch_size, minibatch_size):
                mb = indices[start:start + minibatch_size]
                distribution = Categorical(logits=actor(b_obs[mb]))
                newlogprob, entropy = distribution.log_prob(b_actions[mb].long()), distribution.entropy()
                newvalue = critic(b_obs[mb]).view(-1)
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - args.clip_coef,
                                                                           1 + args.clip_coef)).mean()
                v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, args.max_grad_norm)
                optimizer.step()
            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values.numpy(), b_returns.numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
        log("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
        log("losses/value_loss", v_loss.item(), global_step)
        log("losses/policy_loss", pg_loss.item(), global_step)
        log("losses/entropy", entropy_loss.item(), global_step)
        log("losses/old_approx_kl", old_approx_kl.item(), global_step)
        log("losses/approx_kl", approx_kl.item(), global_step)
        log("losses/clipfrac", float(np.mean(clipfracs)), global_step)
        log("losses/explained_variance", float(explained_var), global_step)

    envs.close()
    writer.close()
    for client, run_id in sinks:
        client.set_terminated(run_id)
    wandb.finish()
    time.sleep(1)
    nan_run(sinks)
    truncated_copy(out)
    prune(out)


def nan_run(sinks) -> None:
    """A tiny labelled-synthetic run in both MLflow stores: approx KL NaN from its 4th update."""
    for client, run_id in sinks:
        experiment_id = client.get_run(run_id).info.experiment_id
        run = client.create_run(experiment_id, run_name="nan_metrics")
        client.log_param(run.info.run_id, "learning_rate", "0.00025")
        for index in range(8):
            step = (index + 1) * 512
            client.log_metric(run.info.run_id, "losses/approx_kl", float("nan") if index >= 3 else 0.004, step=step)
            client.log_metric(run.info.run_id, "charts/learning_rate", 2.5e-4, step=step)
            client.log_metric(run.info.run_id, "losses/entropy", 0.69 - 0.01 * index, step=step)
        client.set_terminated(run.info.run_id)


def truncated_copy(out: Path) -> None:
    """The W&B run directory again, its .wandb file cut at three quarters of its length: a
    run still being written, read mid-record."""
    (source,) = [p for p in (out / "wandb").iterdir() if p.name.startswith("offline-run-")]
    target = out / "wandb_truncated" / source.name
    shutil.copytree(source, target)
    (log,) = target.glob("run-*.wandb")
    data = log.read_bytes()
    log.write_bytes(data[: len(data) * 3 // 4])


def prune(out: Path) -> None:
    """What is not committed: W&B's debug logs (host names, paths) and their links, its tmp/,
    the link to the event file W&B keeps in files/ (absolute, to this machine's path), MLflow's
    empty artifact folders."""
    for wandb_dir in (out / "wandb", out / "wandb_truncated"):
        for link in wandb_dir.glob("debug*.log"):
            link.unlink()
        for run in wandb_dir.glob("offline-run-*"):
            shutil.rmtree(run / "logs", ignore_errors=True)
            shutil.rmtree(run / "tmp", ignore_errors=True)
            for item in (run / "files").iterdir():
                if item.is_dir():
                    shutil.rmtree(item)
    for artifacts in (out / "mlruns").glob("*/*/artifacts"):
        shutil.rmtree(artifacts)
    shutil.rmtree(out / "mlartifacts", ignore_errors=True)


if __name__ == "__main__":
    main()
