"""Write the configs Sample Factory and skrl themselves write or load, for lrdoctor's tests.

Run in a venv with the libraries (versions are recorded beside the outputs):

    python -m venv /tmp/libs && . /tmp/libs/bin/activate
    pip install torch==2.13.0 sample-factory==2.1.1 skrl==2.1.1 gymnasium
    python scripts/make_library_configs.py tests/library_configs

- Sample Factory: its own argument parser builds the configuration (every default filled in,
  as a run would have it), and its runner's own ``_save_cfg`` writes ``config.json`` into the
  experiment directory, as every training run does. Three experiments: the defaults (a GRU,
  ``use_rnn`` is on by default, at a constant LR), an LSTM on ``kl_adaptive_epoch``, and a
  feed-forward one (its --lr_schedule takes constant, kl_adaptive_minibatch or kl_adaptive_epoch).
- skrl: a runner YAML in the layout skrl's ``Runner`` loads (models / memory / agent /
  trainer); ``Runner.load_cfg_from_yaml`` reads it back and the Runner builds its models and
  agent on a small gymnasium env, so the file is one skrl accepts. The agent section written
  is skrl's own PPO defaults with the few keys a user sets.
Seeds from 100; nothing here is copied from the libraries' repositories.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

SAMPLE_FACTORY_RUNS = {
    "sf_defaults_gru": ["--use_rnn=True"],
    "sf_lstm_kl_adaptive": ["--rnn_type=lstm", "--lr_schedule=kl_adaptive_epoch", "--lr_schedule_kl_threshold=0.01",
                            "--learning_rate=0.0003"],
    "sf_feedforward_constant": ["--use_rnn=False"],
}


def sample_factory(out: Path) -> list[str]:
    from sample_factory.algo.runners.runner import Runner
    from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args

    written = []
    for experiment, flags in SAMPLE_FACTORY_RUNS.items():
        argv = ["--env=CartPole-v1", f"--experiment={experiment}", "--train_dir=sample_factory",
                "--seed=100", "--train_for_env_steps=200000", "--device=cpu", *flags]
        parser, _ = parse_sf_args(argv)
        cfg = parse_full_cfg(parser, argv)
        directory = out / "sample_factory" / experiment
        directory.mkdir(parents=True, exist_ok=True)
        Runner._save_cfg(SimpleNamespace(cfg=cfg))  # the runner's own writer, on this configuration
        written.append(str((directory / "config.json").relative_to(out)))
    return written


SKRL_RUNNER_YAML = """\
seed: 100
models:
  separate: False
  policy:
    class: GaussianMixin
    clip_actions: False
    network:
      - name: net
        input: OBSERVATIONS
        layers: [32, 32]
        activations: elu
    output: ACTIONS
  value:
    class: DeterministicMixin
    network:
      - name: net
        input: OBSERVATIONS
        layers: [32, 32]
        activations: elu
    output: ONE
memory:
  class: RandomMemory
  memory_size: -1
agent:
  class: PPO
  rollouts: 16
  learning_epochs: 4
  mini_batches: 2
  learning_rate: 3.0e-04
  learning_rate_scheduler: {scheduler}
  learning_rate_scheduler_kwargs:
    kl_threshold: 0.008
  experiment:
    directory: "pendulum"
    experiment_name: "{name}"
    write_interval: 0
    checkpoint_interval: 0
trainer:
  class: SequentialTrainer
  timesteps: 1600
  environment_info: log
"""


def skrl(out: Path) -> list[str]:
    import gymnasium
    from skrl.envs.wrappers.torch import wrap_env
    from skrl.utils.runner.torch import Runner

    written = []
    for name, scheduler in (("skrl_ppo_kl_adaptive", "KLAdaptiveLR"), ("skrl_ppo_constant", "null")):
        path = out / "skrl" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SKRL_RUNNER_YAML.format(scheduler=scheduler, name=name))
        cfg = Runner.load_cfg_from_yaml(str(path))
        env = wrap_env(gymnasium.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync"))
        Runner(env, cfg)  # skrl builds the models and the agent from it: the file is one it accepts
        env.close()
        written.append(str(path.relative_to(out)))
    return written


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)  # relative paths in what the libraries write: no machine's directories in the files
    files = sample_factory(out) + skrl(out)
    versions = {name: version(name) for name in ("sample-factory", "skrl", "torch", "gymnasium")}
    (out / "VERSIONS.json").write_text(json.dumps({"versions": versions, "files": files}, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
