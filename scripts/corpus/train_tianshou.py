"""Make the Tianshou run of tests/real_runs/tianshou/: PPO on CartPole-v1 through Tianshou 2's
high-level experiment API (PPOExperimentBuilder + ExperimentConfig + OnPolicyTrainingConfig +
PPOParams), which builds Tianshou's own OnPolicyTrainer, collectors and TensorboardLogger.

Tianshou lays the run out as ``<persistence_base_dir>/<experiment name>/exp_seed=<seed>/`` and
writes there: the TensorBoard event file, ``log.txt`` (its text log, which starts with a
pretty-print of the whole experiment config), ``experiment.pkl`` (the pickled Experiment, i.e.
the config objects) and ``policy.pt`` (weights; deleted after the run). The experiment name
is given as ``ppo_cartpole`` (without ``with_name`` Tianshou would use ``PPOExperiment_<datetime tag>``).

    python3 -m venv /work/venvs/tianshou
    /work/venvs/tianshou/bin/pip install torch==2.13.0      # the CPU wheel, first
    /work/venvs/tianshou/bin/pip install -r scripts/corpus/requirements-tianshou.txt
    /work/venvs/tianshou/bin/python scripts/corpus/train_tianshou.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from tianshou.highlevel.config import OnPolicyTrainingConfig
from tianshou.highlevel.env import EnvFactoryRegistered, VectorEnvType
from tianshou.highlevel.experiment import ExperimentConfig, PPOExperimentBuilder
from tianshou.highlevel.logger import LoggerFactoryDefault
from tianshou.highlevel.params.algorithm_params import PPOParams
from tianshou.utils import TensorboardLogger
from sensai.util import logging

OUT = Path(__file__).resolve().parents[2] / "tests" / "real_runs" / "tianshou"
NAME = "ppo_cartpole"
SEED = 103


class EveryUpdateLoggerFactory(LoggerFactoryDefault):
    """Tianshou's default TensorBoard logger factory, but with update_interval=1.

    LoggerFactoryDefault builds ``TensorboardLogger(writer)`` with its default
    ``update_interval=1000``, counted in update steps (one per collect step for PPO), so a run
    of fewer than 1000 updates would log no ``update/*`` (loss) scalars at all.
    """

    def create_logger(self, log_dir, experiment_name, run_id, config_dict=None):
        return TensorboardLogger(self._create_writer(log_dir), update_interval=1, training_interval=1)


def main() -> None:
    torch.set_num_threads(1)
    run_dir = OUT / NAME
    if run_dir.exists():
        shutil.rmtree(run_dir)
    experiment = (
        PPOExperimentBuilder(
            EnvFactoryRegistered(task="CartPole-v1", venv_type=VectorEnvType.DUMMY),
            ExperimentConfig(
                seed=SEED,
                device="cpu",
                persistence_base_dir=str(OUT),
                watch=False,
            ),
            OnPolicyTrainingConfig(
                max_epochs=12,
                epoch_num_steps=3000,
                num_training_envs=4,
                num_test_envs=4,
                test_step_num_episodes=4,
                buffer_size=2048,
                collection_step_num_env_steps=1024,
                batch_size=128,
                update_step_num_repetitions=4,
            ),
        )
        .with_ppo_params(
            PPOParams(
                gamma=0.99,
                gae_lambda=0.95,
                lr=1e-3,
                eps_clip=0.2,
                vf_coef=0.5,
                ent_coef=0.01,
                max_grad_norm=0.5,
                value_clip=False,
                advantage_normalization=True,
                max_batchsize=1024,
            )
        )
        .with_actor_factory_default(hidden_sizes=(64, 64), hidden_activation=torch.nn.Tanh)
        .with_critic_factory_default(hidden_sizes=(64, 64), hidden_activation=torch.nn.Tanh)
        .with_logger_factory(EveryUpdateLoggerFactory())
        .with_name(NAME)
        .build()
    )
    experiment.run()
    # weights are not part of the corpus
    for p in run_dir.rglob("*.pt"):
        os.remove(p)


if __name__ == "__main__":
    logging.run_main(main)  # as Tianshou's own examples do; also makes log.txt non-empty
