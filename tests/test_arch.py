import pytest

from lrdoctor.arch import is_recurrent, kind_of


@pytest.mark.parametrize(
    "name, kind",
    [
        ("MlpLstmPolicy", "lstm"),
        ("CnnLstmPolicy", "lstm"),
        ("MultiInputLstmPolicy", "lstm"),
        ("RecurrentPPO_1", "rnn"),
        ("ppo_atari_lstm", "lstm"),
        ("GRU", "gru"),
        ("cnn_gru", "gru"),
        ("GTrXL", "attention"),
        ("transformer_xl", "attention"),
        ("mamba2", "mamba"),
        ("ssm_policy", "mamba"),
        ("MlpPolicy", "mlp"),
        ("CnnPolicy", "cnn"),
        ("PPO_1", None),
        ("graph_free", None),
        ("grunt", None),
        ("classmate", None),
    ],
)
def test_kind_of(name, kind):
    assert kind_of(name) == kind


def test_is_recurrent():
    assert is_recurrent("gru") and is_recurrent("mamba")
    assert is_recurrent("mlp") is False
    assert is_recurrent("unknown") is None
