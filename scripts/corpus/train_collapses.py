"""Make the collapsing and matched healthy runs of tests/real_collapses/.

One function per library; each library is imported inside its function, so each preset runs
in that library's venv:

* ``sb3``          Stable-Baselines3 PPO (MlpPolicy, feed-forward) on CartPole-v1, SB3's own
                   TensorBoard output (``tensorboard_log=`` + ``tb_log_name=`` -> ``<name>_1/``).
                   venv /work/venvs/sb3 = scripts/corpus/requirements-sb3_contrib.txt
* ``sb3_contrib``  sb3-contrib RecurrentPPO (MlpLstmPolicy) on CartPole-v1, same logger.
                   venv /work/venvs/sb3 = scripts/corpus/requirements-sb3_contrib.txt
* ``rl_games``     rl_games a2c_discrete PPO with an LSTM (``network.rnn``) on CartPole-v1,
                   through rl_games' ``Runner``; rl_games' own tensorboardX writer and layout
                   ``<train_dir>/<name>_<DD-HH-MM-SS>/summaries/`` (``nn/`` checkpoints are
                   deleted). The in-process ``LOCAL`` vecenv is the one defined in
                   scripts/corpus/train_rl_games.py (imported, not copied).
                   venv /work/venvs/rlgames = scripts/corpus/requirements-rl_games.txt
* ``rl_games_mlp`` the same rl_games PPO with a feed-forward net (no ``network.rnn``): SB3 PPO's
                   collapse recipe (a constant 5e-2, 20 mini-epochs); seed 100 collapsed.
                   venv /work/venvs/forecast-libs = scripts/corpus/requirements-rl_games.txt
* ``skrl``         skrl PPO_RNN with the GRU models of scripts/corpus/train_skrl.py (imported)
                   on CartPole-v1, skrl's SequentialTrainer and writer.
                   venv /work/venvs/skrl = scripts/corpus/requirements-skrl.txt

Outcome (see tests/real_collapses/README.md): the SB3 and sb3-contrib presets collapse on
the seeds kept; the rl_games (LSTM, constant 1e-2 and 5e-2 x 8 mini-epochs) and skrl
(PPO_RNN GRU, constant 1e-2 and 3e-2 x 8 epochs) settings tried did NOT collapse within a
short run; the feed-forward rl_games preset (``rl_games_mlp``) did, and that run is in
tests/real_collapses/rl_games/.

Each library has a ``collapse`` setting (a too-high *constant* learning rate, with many
epochs per rollout) and a ``healthy`` setting (a moderate constant learning rate), run on
two seeds each. Folder names carry the settings and seed, not the words collapse/healthy,
so nothing downstream can read the answer from the name; tests/real_collapses/README.md
says which is which and why.

    /work/venvs/sb3/bin/python     scripts/corpus/train_collapses.py sb3 {collapse,healthy} --seed N
    /work/venvs/sb3/bin/python     scripts/corpus/train_collapses.py sb3_contrib {collapse,healthy} --seed N
    /work/venvs/rlgames/bin/python scripts/corpus/train_collapses.py rl_games {collapse,healthy} --seed N
    /work/venvs/skrl/bin/python    scripts/corpus/train_collapses.py skrl {collapse,healthy} --seed N

``--lr``, ``--epochs``, ``--steps`` and ``--out`` override a preset (used only for the probes
described in the README).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "tests" / "real_collapses"

# --------------------------------------------------------------------------- presets
SB3_FIXED = dict(n_steps=128, gamma=0.99, gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)
PRESETS = {
    "sb3": {
        "collapse": dict(learning_rate=5e-2, n_epochs=20, batch_size=128, steps=40_960),
        "healthy": dict(learning_rate=3e-4, n_epochs=20, batch_size=128, steps=40_960),
    },
    "sb3_contrib": {
        "collapse": dict(learning_rate=1e-2, n_epochs=10, batch_size=128, steps=30_720),
        "healthy": dict(learning_rate=3e-4, n_epochs=4, batch_size=128, steps=30_720),
    },
    "rl_games": {
        "collapse": dict(learning_rate=1e-2, mini_epochs=8, max_epochs=40),
        "healthy": dict(learning_rate=1e-3, mini_epochs=4, max_epochs=40),
    },
    # rl_games with a feed-forward net (no ``network.rnn``): the LSTM settings above kept learning, so
    # this is SB3 PPO's collapse recipe in rl_games' terms (a constant 5e-2, 20 passes over each batch).
    "rl_games_mlp": {
        "collapse": dict(learning_rate=5e-2, mini_epochs=20, max_epochs=40, rnn=False),
        "healthy": dict(learning_rate=3e-4, mini_epochs=20, max_epochs=40, rnn=False),
    },
    "skrl": {
        "collapse": dict(learning_rate=1e-2, learning_epochs=8, timesteps=12_288),
        "healthy": dict(learning_rate=3e-4, learning_epochs=4, timesteps=12_288),
    },
}


def lr_tag(lr: float) -> str:
    m, e = f"{lr:.0e}".split("e")
    return f"{m}e{int(e)}"


# --------------------------------------------------------------------------- SB3 PPO / RecurrentPPO
def run_sb3(p: dict, seed: int, out: Path, recurrent: bool) -> None:
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=4, seed=seed)
    common = dict(
        seed=seed,
        device="cpu",
        verbose=0,
        learning_rate=p["learning_rate"],
        n_epochs=p["n_epochs"],
        batch_size=p["batch_size"],
        **SB3_FIXED,
    )
    if recurrent:
        from sb3_contrib import RecurrentPPO

        model = RecurrentPPO(
            "MlpLstmPolicy",
            env,
            tensorboard_log=str(out / "sb3_contrib"),
            policy_kwargs=dict(lstm_hidden_size=64, net_arch=dict(pi=[64], vf=[64])),
            **common,
        )
        name = f"RecurrentPPO_CartPole-v1_lr{lr_tag(p['learning_rate'])}_ep{p['n_epochs']}_seed{seed}"
    else:
        from stable_baselines3 import PPO

        model = PPO(
            "MlpPolicy",
            env,
            tensorboard_log=str(out / "sb3"),
            policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])),
            **common,
        )
        name = f"PPO_CartPole-v1_lr{lr_tag(p['learning_rate'])}_ep{p['n_epochs']}_seed{seed}"
    model.learn(total_timesteps=p["steps"], tb_log_name=name, log_interval=1)
    env.close()
    print(model.logger.dir)


# --------------------------------------------------------------------------- rl_games
def run_rl_games(p: dict, seed: int, out: Path) -> None:
    import torch

    sys.path.insert(0, str(HERE))
    import train_rl_games  # noqa: F401  (registers the in-process LOCAL vecenv)
    from rl_games.common import env_configurations
    from rl_games.common.gym_compat import make
    from rl_games.torch_runner import Runner

    env_configurations.register(
        "CartPole-v1-local", {"vecenv_type": "LOCAL", "env_creator": lambda **kw: make("CartPole-v1")}
    )
    train_dir = out / "rl_games"
    recurrent = p.get("rnn", True)
    net = "lstm" if recurrent else "mlp"
    name = f"cartpole_{net}_lr{lr_tag(p['learning_rate'])}_ep{p['mini_epochs']}_s{seed}"
    params = {
        "params": {
            "seed": seed,
            "algo": {"name": "a2c_discrete"},
            "model": {"name": "discrete_a2c"},
            "network": {
                "name": "actor_critic",
                "separate": False,
                "space": {"discrete": {}},
                "mlp": {
                    "units": [64] if recurrent else [64, 64],
                    "activation": "elu",
                    "initializer": {"name": "default"},
                    "regularizer": {"name": "None"},
                },
                **({"rnn": {"name": "lstm", "units": 64, "layers": 1, "before_mlp": True, "concat_input": False}}
                   if recurrent else {}),
            },
            "config": {
                "name": name,
                "env_name": "CartPole-v1-local",
                "env_config": {},
                "train_dir": str(train_dir),
                "device": "cpu",
                "torch_compile": False,
                "reward_shaper": {"scale_value": 0.1},
                "normalize_advantage": True,
                "normalize_input": False,
                "normalize_value": False,
                "gamma": 0.99,
                "tau": 0.95,
                "learning_rate": p["learning_rate"],
                "lr_schedule": "constant",  # anything but adaptive/linear = rl_games' IdentityScheduler
                "score_to_win": 100_000,
                "max_epochs": p["max_epochs"],
                "save_best_after": 100_000,
                "save_frequency": 0,
                "grad_norm": 0.5,
                "entropy_coef": 0.0,
                "truncate_grads": True,
                "e_clip": 0.2,
                "clip_value": False,
                "num_actors": 8,
                "horizon_length": 128,
                "minibatch_size": 256,
                "mini_epochs": p["mini_epochs"],
                "critic_coef": 2,
                "seq_length": 16,
                "bounds_loss_coef": 0.0,
                "print_stats": False,
            },
        }
    }
    torch.set_num_threads(1)
    runner = Runner()
    runner.load(params)
    runner.run({"train": True, "play": False})
    for nn_dir in train_dir.glob(f"{name}_*/nn"):
        shutil.rmtree(nn_dir)  # checkpoints are not part of the corpus
    print(sorted(train_dir.glob(f"{name}_*"))[-1])


# --------------------------------------------------------------------------- skrl PPO_RNN (GRU)
def run_skrl(p: dict, seed: int, out: Path) -> None:
    import torch

    sys.path.insert(0, str(HERE))
    from train_skrl import RNNPolicy, RNNValue, make_env  # the GRU models of tests/real_runs/skrl
    from skrl.agents.torch.ppo import PPO_CFG, PPO_RNN
    from skrl.memories.torch import RandomMemory
    from skrl.trainers.torch import SequentialTrainer, SequentialTrainerCfg
    from skrl.utils import set_seed

    torch.set_num_threads(1)
    num_envs = 4
    set_seed(seed)
    env = make_env("CartPole-v1", num_envs=num_envs, seed=seed)
    models = {
        "policy": RNNPolicy(env.observation_space, env.action_space, env.device, num_envs),
        "value": RNNValue(env.observation_space, env.action_space, env.device, num_envs),
    }
    cfg = PPO_CFG(
        rollouts=128,
        learning_epochs=p["learning_epochs"],
        mini_batches=2,
        discount_factor=0.99,
        gae_lambda=0.95,
        learning_rate=p["learning_rate"],  # constant: no scheduler (so skrl logs no LR tag)
        grad_norm_clip=0.5,
        ratio_clip=0.2,
        value_clip=0.2,
        entropy_loss_scale=0.001,  # small, but not 0: skrl logs "Loss / Entropy loss" only if != 0
        value_loss_scale=0.5,
    )
    cfg.experiment.directory = str(out / "skrl")
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
        cfg=SequentialTrainerCfg(timesteps=p["timesteps"], headless=True, disable_progressbar=True),
    )
    trainer.train()
    print(agent.experiment_dir)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("library", choices=sorted(PRESETS))
    ap.add_argument("preset", choices=["collapse", "healthy"])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="env steps (SB3) or epochs (rl_games)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    assert a.seed >= 100
    p = dict(PRESETS[a.library][a.preset])
    if a.lr is not None:
        p["learning_rate"] = a.lr
    if a.epochs is not None:
        p[{"rl_games": "mini_epochs", "rl_games_mlp": "mini_epochs", "skrl": "learning_epochs"}.get(a.library, "n_epochs")] = a.epochs
    if a.steps is not None:
        p[{"rl_games": "max_epochs", "rl_games_mlp": "max_epochs", "skrl": "timesteps"}.get(a.library, "steps")] = a.steps
    if a.library.startswith("rl_games"):
        run_rl_games(p, a.seed, a.out)
    elif a.library == "skrl":
        run_skrl(p, a.seed, a.out)
    else:
        run_sb3(p, a.seed, a.out, recurrent=a.library == "sb3_contrib")


if __name__ == "__main__":
    main()
