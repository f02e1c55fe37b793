"""Reading units in each library's layout into records (synthetic configs, the libraries' key names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrdoctor.check import check_text
from lrdoctor.configs.formats import policy_kwargs, read_unit
from lrdoctor.configs.loaders import ParseError, load
from lrdoctor.configs.record import ADAPTIVE, CONSTANT, NO_WARMUP, WARMUP, Setting
from lrdoctor.configs.split import split_units
from lrdoctor.rules.options import default_options


def records(text: str, name: str = "config.yaml"):
    document = load(Path(name), text)
    return [read_unit(document, unit, name) for unit in split_units(document)]


def test_zoo_file_splits_into_env_units_and_ignores_the_schedule_prefix():
    # The zoo splits "<name>_<value>" on "_" and decays linearly whatever the name says.
    text = "A-v1:\n  policy: MlpLstmPolicy\n  learning_rate: constant_3e-4\nB-v1:\n  policy: MlpPolicy\n"
    a, b = records(text)
    assert (a.unit, a.format, a.unit_line) == ("A-v1", "rl-baselines3-zoo", 1)
    assert a.schedule.value == NO_WARMUP
    assert a.lr.value == 3e-4
    assert a.architecture.value == "lstm" and a.recurrent is True
    assert b.recurrent is False


def test_zoo_default_lr_is_sb3_constant_and_points_at_policy():
    (record,) = records("Env-v0:\n  n_timesteps: !!float 2e6\n  policy: 'CnnLstmPolicy'\n")
    assert record.schedule.value == CONSTANT
    assert not record.schedule.declared
    assert (record.schedule.line, record.lr.value, record.total_steps.value) == (3, 3e-4, 2_000_000)


def test_policy_kwargs_string_is_parsed_never_run():
    kwargs = policy_kwargs(Setting("dict(lstm_hidden_size=64, enable_critic_lstm=False, activation_fn=nn.ReLU)",
                                   "policy_kwargs", 1, 1))
    assert kwargs == {"lstm_hidden_size": 64, "enable_critic_lstm": False, "activation_fn": "nn.ReLU"}
    hostile = policy_kwargs(Setting("dict(x=__import__('os').system('false'))", "policy_kwargs", 1, 1))
    assert hostile == {"x": "__import__('os').system('false')"}
    assert policy_kwargs(Setting("not python (", "policy_kwargs", 1, 1)) == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("dict(a=" + "-" * 10_000 + "1)", "policy_kwargs is longer than 2,000 characters"),  # once a MemoryError
        ("dict(net_arch=" + "[" * 40 + "]" * 40 + ")", "policy_kwargs nests deeper than 32 levels"),
        ("dict(a=" + "-" * 1_900 + "1)", "policy_kwargs nests deeper than 32 levels"),
        ("dict(net_arch=[" + ",".join(["a"] * 900) + "])", "policy_kwargs has more than 1,000 syntax nodes"),
    ],
)
def test_policy_kwargs_over_a_budget_is_not_parsed(text, reason):
    with pytest.raises(ParseError) as raised:
        policy_kwargs(Setting(text, "policy_kwargs", 7, 3))
    assert (raised.value.message, raised.value.line, raised.value.column) == (reason, 7, 3)


def test_sb3_features_extractor_name_reveals_a_recurrent_policy():
    (record,) = records('{"policy": "MultiInputPolicy", "policy_kwargs": "dict(features_extractor_class=GRUExtractor)",'
                        ' "learning_rate": 0.0003}', "sb3.json")
    assert record.format == "stable-baselines3"
    assert record.architecture.value == "gru"


def test_rllib_new_stack_lr_list_and_near_peak_start():
    text = "config:\n  model_config: {use_lstm: true}\n  lr: [[0, 1.0e-4], [1000, 2.0e-4]]\nrun: PPO\n"
    (record,) = records(text)
    assert (record.format, record.dialect) == ("rllib", "new-stack")
    assert record.schedule.value == WARMUP and record.schedule.start_fraction == 0.5
    assert record.lr.value == 2e-4


def test_rllib_default_lr_when_absent():
    (record,) = records('{"model": {"use_attention": true}, "train_batch_size": 4000, "num_sgd_iter": 10}', "p.json")
    assert record.architecture.value == "attention"
    assert record.schedule.value == CONSTANT and record.lr.value == 5e-5


def test_sample_factory_use_rnn_defaults_to_true_and_adaptive_schedules():
    (record,) = records("algo: APPO\nnum_workers: 8\nnum_envs_per_worker: 4\nlr_schedule: kl_adaptive_minibatch\n")
    assert record.format == "sample-factory"
    assert record.architecture.value == "gru" and not record.architecture.declared
    assert record.schedule.value == ADAPTIVE
    (off,) = records("use_rnn: false\nrnn_type: lstm\ntrain_for_env_steps: 1000\n")
    assert off.recurrent is False


def test_rl_games_schedules():
    def schedule(value):
        text = f"params:\n  network:\n    rnn: {{name: gru}}\n  config:\n    learning_rate: 3e-4\n{value}"
        return records(text)[0]

    assert schedule("    lr_schedule: adaptive\n").schedule.value == ADAPTIVE
    assert schedule("    lr_schedule: linear\n").schedule.value == NO_WARMUP
    assert schedule("    lr_schedule: None\n").schedule.value == CONSTANT
    absent = schedule("")
    assert absent.schedule.value == CONSTANT and absent.schedule.key == "params.config.learning_rate"
    assert absent.lr.value == 3e-4  # "3e-4" is text to YAML 1.1 readers; read as a number


def test_generic_architecture_named_by_its_own_section():
    text = (
        "architecture: graph_free\n"
        "architectures:\n  attention: {type: transformer}\n  graph_free: {encoder: gru}\n"
        "lr: 3.0e-4\n"
    )
    (record,) = records(text)
    assert (record.architecture.value, record.architecture_name) == ("gru", "graph_free")
    assert record.schedule.value == CONSTANT


def test_generic_warmup_list_that_covers_the_architecture():
    base = "model: {type: lstm}\nlr: 3.0e-4\nwarmup_steps: 1000\n"
    (left_out,) = records(base + "warmup_architectures: [attention]\n")
    assert left_out.schedule.value == CONSTANT and left_out.schedule.line == 4
    (covered,) = records(base + "warmup_architectures: [rnn]\n")
    assert covered.schedule.value == WARMUP


def test_generic_config_without_architecture_is_not_judged():
    (record,) = records('{"name": "tsconfig", "compilerOptions": {"strict": true}}', "tsconfig.json")
    assert record.architecture is None and record.recurrent is None


ODD_CONFIGS = [
    ("a.yaml", "policy: 5\nlearning_rate: lin_\n"),
    ("a.yaml", "A-v1:\n  policy: MlpLstmPolicy\n  learning_rate: lin_x\n  n_timesteps: abc\n"),
    ("a.yaml", "params: {config: 5, network: [1]}\n"),
    ("a.yaml", "params:\n  network: {rnn: 5}\n  config: {lr_schedule: 7, learning_rate: -1}\n"),
    ("a.yaml", "model: {type: gru}\nlr_schedule: [[0]]\n"),
    ("a.yaml", "model: {type: gru}\nlr: 3e-4\nwarmup_architectures: [1, 2]\n"),
    ("a.yaml", "model: {type: gru}\nlearning_rate: 1e-3\ntotal_timesteps: 0.5\n"),
    ("a.yaml", "model: {type: gru}\nlr: .inf\n"),
    ("a.yaml", "1: 2\n3: {4: 5}\n"),
    ("a.yaml", "? [a, b]\n: 1\n"),
    ("a.yaml", "config: {model: 5, lr: [[0, 1e-3]]}\nrun: PPO\n"),
    ("a.yaml", "agent: {learning_rate_scheduler: 5, learning_rate_scheduler_kwargs: 3}\nmodels: {}\n"),
    ("a.yaml", "policy: MlpLstmPolicy\npolicy_kwargs: 'dict(**x)'\ntarget_kl: abc\n"),
    ("b.json", '{"policy": "CnnLstmPolicy", "learning_rate": true}'),
    ("b.json", '{"model": {"use_lstm": true}, "lr_schedule": [[0, 1e-3], ["a", 2]], "num_sgd_iter": 1, "kl_coeff": 1}'),
    ("b.json", "[1, 2]"),
    ("c.toml", "[[x]]\n[x.y]\nz = 1\n"),
]


@pytest.mark.parametrize(("name", "text"), ODD_CONFIGS)
def test_odd_values_never_crash(name, text):
    result = check_text(name, text, default_options())
    assert result.unread == 0
    for finding in result.findings:
        assert finding.line >= 1 and finding.column >= 1


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        ("arch: lstm\nlr: 3.0e-4\nlr_schedule: constant\n", CONSTANT, 3),
        ("arch: lstm\nlr: 3.0e-4\nwarmup_fraction: 0\n", CONSTANT, 3),
        ("arch: lstm\nlr: 3.0e-4\nwarmup_fraction: 0.05\n", WARMUP, 3),
        ("arch: lstm\nlr: 3.0e-4\nlr_schedule: linear\nwarmup: false\n", NO_WARMUP, 4),
        ("arch: lstm\nlr: 3.0e-4\nanneal_lr: true\n", NO_WARMUP, 3),
        ("arch: lstm\nlr: 3.0e-4\nscheduler: {type: warmup_cosine}\n", WARMUP, 3),
        ("arch: lstm\nlr: 3.0e-4\n", CONSTANT, 2),
    ],
)
def test_generic_schedule_and_warmup_keys(text, expected, line):
    (record,) = records(text)
    assert (record.schedule.value, record.schedule.line) == (expected, line)
