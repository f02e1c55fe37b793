import pytest

from lrdoctor.cli.schedule import parse_steps
from lrdoctor.errors import InputError
from lrdoctor.words import format_lr, format_steps


@pytest.mark.parametrize(
    "text, steps",
    [("20M", 20_000_000), ("500K", 500_000), ("2e7", 20_000_000), ("1.5m", 1_500_000), ("20_000", 20_000)],
)
def test_parse_steps(text, steps):
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["abc", "-5", "0", "1.5", "", "nanM"])
def test_parse_steps_rejects(text):
    with pytest.raises(InputError):
        parse_steps(text)


@pytest.mark.parametrize("steps, text", [(500_000, "500K"), (2_500_000, "2.5M"), (20_000_000, "20M"), (999, "999")])
def test_format_steps(steps, text):
    assert format_steps(steps) == text


@pytest.mark.parametrize("lr, text", [(3e-4, "3e-04"), (1.5e-5, "1.5e-05"), (1e-6, "1e-06")])
def test_format_lr(lr, text):
    assert format_lr(lr) == text
