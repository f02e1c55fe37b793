"""Make the hyperparameter sweeps of tests/real_sweeps/: Stable-Baselines3 PPO on CartPole-v1.

Unmodified SB3 ``PPO("MlpPolicy")`` logged by SB3's own TensorBoard output
(``tensorboard_log=<run dir>`` + ``tb_log_name="PPO"``, so SB3 names the folder ``PPO_1``).
Each run gets its own directory named the way people name sweep runs,
``lr=<lr>_ent=<ent_coef>_seed=<seed>/``, and SB3's ``PPO_1/`` inside it.

SB3 saves no config file of its own. RL Baselines3 Zoo writes ``config.yml`` (the
hyperparameters) and ``args.yml`` (the command line) next to its runs; in that spirit this
script writes a small ``config.yaml`` of exactly the settings passed to ``PPO(...)`` and
``learn(...)``, into ``PPO_1/`` beside the event file (plain YAML written by hand: the venv
has no PyYAML; zoo's own file is a dumped OrderedDict, not copied here).

Grids:

* ``main``: learning_rate {3e-4, 3e-3, 3e-2} x ent_coef {0.0, 0.01} x seed {100, 101, 102}
  = 18 runs into tests/real_sweeps/.
* ``all_healthy``: learning_rate 3e-4 x ent_coef {0.0, 0.01} x seed {103, 104} = 4 runs
  into tests/real_sweeps/all_healthy/.

    /work/venvs/sb3/bin/python scripts/corpus/train_sweep_sb3.py {main,all_healthy} [--out DIR]
    /work/venvs/sb3/bin/python scripts/corpus/train_sweep_sb3.py one --lr 3e-2 --ent 0.0 --seed 100 --out /tmp/probe

(venv: the same as scripts/corpus/requirements-sb3_contrib.txt; torch==2.13.0 CPU first.)
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

ROOT = Path(__file__).resolve().parents[2] / "tests" / "real_sweeps"

ENV_ID = "CartPole-v1"
N_ENVS = 4
TOTAL_TIMESTEPS = 40_960  # 80 rollouts of 4 x 128 steps
FIXED = dict(
    n_steps=128,
    batch_size=128,
    n_epochs=10,
    gamma=0.99,
    gae_lambda=0.95,
    clip_range=0.2,
    vf_coef=0.5,
    max_grad_norm=0.5,
)
POLICY_KWARGS = dict(net_arch=dict(pi=[64, 64], vf=[64, 64]))

GRIDS = {
    "main": dict(lr=[3e-4, 3e-3, 3e-2], ent=[0.0, 0.01], seed=[100, 101, 102], out=ROOT),
    "all_healthy": dict(lr=[3e-4], ent=[0.0, 0.01], seed=[103, 104], out=ROOT / "all_healthy"),
}


def fmt(x: float) -> str:
    """3e-4 -> '3e-4', 0.01 -> '0.01', 0.0 -> '0.0' (the way people type them in sweeps)."""
    if x == 0:
        return "0.0"
    if x < 1e-2 or x in (3e-2,):
        m, e = f"{x:.0e}".split("e")
        return f"{m}e{int(e)}"
    return f"{x:g}"


def write_config(path: Path, cfg: dict) -> None:
    lines = ["# hyperparameters passed to stable_baselines3.PPO(...) and .learn(...) for this run"]
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines.append(f"{k}:")
            for k2, v2 in v.items():
                lines.append(f"  {k2}: {v2!r}".replace("'", ""))
        elif isinstance(v, str):
            lines.append(f"{k}: {v}")
        else:
            lines.append(f"{k}: {v!r}")
    path.write_text("\n".join(lines) + "\n")


def run_one(lr: float, ent: float, seed: int, out: Path, env_id: str = ENV_ID, steps: int = TOTAL_TIMESTEPS) -> Path:
    assert seed >= 100
    torch.set_num_threads(1)
    run_dir = out / f"lr={fmt(lr)}_ent={fmt(ent)}_seed={seed}"
    env = make_vec_env(env_id, n_envs=N_ENVS, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=lr,
        ent_coef=ent,
        seed=seed,
        device="cpu",
        verbose=0,
        tensorboard_log=str(run_dir),
        policy_kwargs=POLICY_KWARGS,
        **FIXED,
    )
    model.learn(total_timesteps=steps, tb_log_name="PPO", log_interval=1)
    env.close()
    tb_dir = Path(model.logger.dir)
    cfg = {
        "algo": "ppo",
        "library": "stable-baselines3",
        "env_id": env_id,
        "n_envs": N_ENVS,
        "n_timesteps": steps,
        "policy": "MlpPolicy",
        "learning_rate": lr,
        "ent_coef": ent,
        **FIXED,
        "policy_kwargs": "dict(net_arch=dict(pi=[64, 64], vf=[64, 64]))",
        "seed": seed,
        "device": "cpu",
    }
    write_config(tb_dir / "config.yaml", cfg)
    print(tb_dir)
    return tb_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("grid", choices=["main", "all_healthy", "one"])
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--ent", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--env", default=ENV_ID, help="probes only (the corpus uses CartPole-v1)")
    ap.add_argument("--steps", type=int, default=TOTAL_TIMESTEPS, help="probes only")
    a = ap.parse_args()
    if a.grid == "one":
        run_one(a.lr, a.ent, a.seed, a.out or ROOT, a.env, a.steps)
        return
    g = GRIDS[a.grid]
    out = a.out or g["out"]
    for lr, ent, seed in itertools.product(g["lr"], g["ent"], g["seed"]):
        run_one(lr, ent, seed, out)


if __name__ == "__main__":
    main()
