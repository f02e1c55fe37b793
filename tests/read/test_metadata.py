import json

from lrdoctor.read.metadata import config_files, read_metadata

GRAPH_FREE = {
    "architecture": "graph_free",
    "policy_kwargs": {"features_extractor_class": "GraphFreeExtractor", "rnn_type": "gru"},
    "learning_rate": 3e-4,
    "lr_schedule": "constant",
    "warmup_architectures": ["attention", "mamba"],
    "total_timesteps": 20_000_000,
    "target_kl": 0.02,
}


def test_originating_config_gru_from_its_key_and_warmup_off(tmp_path):
    run = tmp_path / "exp" / "run1"
    run.mkdir(parents=True)
    (tmp_path / "exp" / "config.json").write_text(json.dumps(GRAPH_FREE, indent=2))
    meta = read_metadata(run, tmp_path)
    assert (meta.architecture.kind, meta.architecture.recurrent, meta.architecture.name) == ("gru", True, "graph_free")
    assert meta.architecture.source == "exp/config.json:5 policy_kwargs.rnn_type"
    assert meta.config.warmup.value is False
    assert meta.config.warmup.source.startswith("graph_free not in warmup_architectures")
    assert meta.config.lr.value == 3e-4 and meta.config.lr_schedule.value == "constant"
    assert meta.config.total_steps.value == 20_000_000 and meta.config.target_kl.value == 0.02


def test_config_files_are_found_in_the_run_and_each_directory_above_it_nearest_first(tmp_path):
    run = tmp_path / "sweep" / "group" / "run1"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("a: 1\n")
    (run / "config.json").mkdir()  # a directory of a config's name is no config
    (tmp_path / "sweep" / "group" / "params").mkdir()
    (tmp_path / "sweep" / "group" / "params" / "agent.yaml").write_text("a: 1\n")
    (tmp_path / "sweep" / "config.yaml").write_text("a: 1\n")
    (tmp_path / "config.yaml").write_text("a: 1\n")  # above the root: not looked at
    assert config_files(run, tmp_path / "sweep") == [
        run / ".hydra" / "config.yaml", tmp_path / "sweep" / "group" / "params" / "agent.yaml",
        tmp_path / "sweep" / "config.yaml"]


def test_rl_zoo_config_is_a_list_of_pairs(tmp_path):
    (tmp_path / "config.yml").write_text(
        "!!python/object/apply:collections.OrderedDict\n"
        "- - - batch_size\n    - 64\n"
        "  - - learning_rate\n    - lin_3e-4\n"
        "  - - n_timesteps\n    - 1000000.0\n"
        "  - - policy\n    - MlpPolicy\n"
        "  - - policy_kwargs\n    - dict(lstm_hidden_size=64, net_arch=dict(pi=[64], vf=[64]), activation_fn=nn.ReLU)\n"
    )
    meta = read_metadata(tmp_path, tmp_path)
    assert meta.config.lr.value == 3e-4 and meta.config.lr_schedule.value == "linear"
    assert meta.config.total_steps.value == 1_000_000
    assert (meta.architecture.kind, meta.architecture.source) == ("mlp", "config.yml:8 policy")


def test_sample_factory_rnn_type_ignored_when_use_rnn_is_off(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"use_rnn": False, "rnn_type": "gru", "lr_schedule": "kl_adaptive_epoch"}))
    meta = read_metadata(tmp_path, tmp_path)
    assert meta.architecture.recurrent is False and meta.config.lr_schedule.value == "adaptive"
    (tmp_path / "config.json").write_text(json.dumps({"use_rnn": True, "rnn_type": "lstm"}))
    assert read_metadata(tmp_path, tmp_path).architecture.kind == "lstm"


def test_tune_params_json_use_lstm(tmp_path):
    (tmp_path / "params.json").write_text(json.dumps({"lr": 5e-5, "model": {"use_lstm": True}}))
    meta = read_metadata(tmp_path, tmp_path)
    assert meta.architecture.kind == "lstm" and meta.architecture.source == "params.json:1 model.use_lstm"


def test_toml_with_line_numbers(tmp_path):
    (tmp_path / "config.toml").write_text('[model]\nrnn_type = "lstm"\n[train]\nlearning_rate = 1e-4\nwarmup_steps = 0\n')
    meta = read_metadata(tmp_path, tmp_path)
    assert meta.architecture.source == "config.toml:2 model.rnn_type"
    assert meta.config.warmup.value is False and meta.config.lr.source == "config.toml:4 train.learning_rate"


def test_names_hparams_and_override(tmp_path):
    run = tmp_path / "CartPole-v1__ppo_atari_lstm__1__1700000000"
    run.mkdir()
    guessed = read_metadata(run, tmp_path).architecture
    assert guessed.kind == "lstm" and "guess" in guessed.source
    # sources are named relative to the argument: the run directory, or nothing when it is the argument
    hparams = {"policy": "MlpPolicy"}
    assert read_metadata(run, tmp_path, hparams=hparams).architecture.source == f"{run.name} hparams plugin: policy"
    assert read_metadata(run, run, hparams=hparams).architecture.source == "hparams plugin: policy"
    forced = read_metadata(run, tmp_path, arch_override="gru").architecture
    assert (forced.kind, forced.source) == ("gru", "--arch")
    plain = tmp_path / "PPO_1"
    plain.mkdir()
    assert read_metadata(plain, tmp_path).architecture.kind == "unknown"


def test_malformed_config_is_a_note(tmp_path):
    (tmp_path / "config.yaml").write_text("a: [unclosed\n")
    (tmp_path / "config.json").write_bytes(b"\xff\xfe{")
    meta = read_metadata(tmp_path, tmp_path)
    assert len(meta.notes) == 2 and meta.architecture.kind == "unknown"


def test_alias_bomb_is_bounded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
    (tmp_path / "config.yaml").write_text("\n".join(lines) + "\n")
    assert read_metadata(tmp_path, tmp_path).architecture.kind == "unknown"


def test_a_guessed_architecture_has_no_name(tmp_path):
    run = tmp_path / "sb3" / "RecurrentPPO_1"
    run.mkdir(parents=True)
    guessed = read_metadata(run, tmp_path).architecture
    assert (guessed.kind, guessed.name) == ("lstm", None)
    assert guessed.source == "directory name 'RecurrentPPO_1' (guess: sb3-contrib RecurrentPPO is LSTM-only)"
    cleanrl = tmp_path / "CartPole-v1__ppo_lstm__1__1700000000"
    cleanrl.mkdir()
    assert read_metadata(cleanrl, tmp_path).architecture.name is None
    # a name the run's own config gives survives a kind guessed from the directory
    (run / "config.json").write_text('{"architecture": "my_net"}')
    assert read_metadata(run, tmp_path).architecture.name == "my_net"


def test_config_and_logged_sources_are_named_alike(tmp_path):
    run = tmp_path / "sweep" / "run_a"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{\n  "learning_rate": 0.0003\n}')
    meta = read_metadata(run, tmp_path, hparams={"rnn_type": "gru"})
    assert meta.config.lr.source == "sweep/run_a/config.json:2 learning_rate"
    assert meta.architecture.source == "sweep/run_a hparams plugin: rnn_type"


def test_infinite_or_zero_totals_and_targets_are_not_declared_values(tmp_path):
    # A config value of .inf or 0 declares nothing usable; it must not make the run unreadable.
    (tmp_path / "config.yaml").write_text("total_timesteps: .inf\ntarget_kl: 0\nlearning_rate: 3.0e-4\n")
    meta = read_metadata(tmp_path, tmp_path)
    assert meta.config.total_steps is None and meta.config.target_kl is None
    assert meta.config.lr.value == 3e-4
