"""What bad rule options get, through the real CLI (docs/bad-input.md).

A ``--set`` or ``--tag`` that cannot be read, and a [tool.lrdoctor] table in the
working directory's pyproject.toml that is not valid TOML or not UTF-8, are each one
``lrdoctor: error:`` line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input import (
    analyze,
    error_line,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "kl-exceeded.threshold=abc"], "--set kl-exceeded.threshold: expected a number, got 'abc'"),
        (["--set", "nope.x=1"], "--set nope.x: unknown rule: nope"),
        (["--set", "threshold"], "--set threshold: expected RULE.OPTION=VALUE"),
        (["--tag", "kl="], "--tag kl=: expected METRIC=TAG"),
        (["--tag", "speed=x"], "--tag speed=x: unknown metric 'speed'"),
    ],
)
def test_bad_option_values(args, message):
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", *args)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"lrdoctor: error: {message}")


def test_broken_tool_config_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.lrdoctor\n")
    monkeypatch.chdir(tmp_path)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr")
    assert result.exit_code == 2
    assert error_line(result).startswith(f"lrdoctor: error: {tmp_path / 'pyproject.toml'}: not valid TOML: ")
    assert "(at line 1, column 15)" in error_line(result)


def test_tool_config_that_is_not_utf8(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.lrdoctor]\nfail-on = '\xff'\n")
    monkeypatch.chdir(tmp_path)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr")
    assert result.exit_code == 2
    expected = f"lrdoctor: error: {tmp_path / 'pyproject.toml'}: not valid TOML: not UTF-8 text (byte 27)\n"
    assert result.stderr == expected
