"""``--baseline`` / ``--write-baseline``: CI fails only on findings that are new (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lrdoctor.cli import app

runner = CliRunner()
ZOO = """\
CartPole-v1:
  policy: MlpLstmPolicy
  learning_rate: 3.0e-4
  target_kl: 0.02
"""
NEW_UNIT = """\
Acrobot-v1:
  policy: MlpLstmPolicy
  learning_rate: 1.0e-3
  target_kl: 0.02
"""


def check(*args: str):
    return runner.invoke(app, ["check", "--format", "concise", *args])


def test_a_baseline_hides_old_findings_survives_line_moves_and_catches_new_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ppo_lstm.yml").write_text(ZOO)
    assert check(".").exit_code == 1
    written = check(".", "--write-baseline", ".lrdoctor-baseline.json")
    assert written.exit_code == 0 and "baseline of 1 written" in written.stderr
    assert json.loads(Path(".lrdoctor-baseline.json").read_text())["findings"][0]["unit"] == "CartPole-v1"

    result = check(".", "--baseline", ".lrdoctor-baseline.json")  # the baseline itself is not a config
    assert (result.exit_code, result.stdout) == (0, "")
    assert "1 more in the baseline" in result.stderr

    Path("ppo_lstm.yml").write_text("# a comment moves every line down\n\n" + ZOO)
    assert check(".", "--baseline", ".lrdoctor-baseline.json").exit_code == 0

    Path("ppo_lstm.yml").write_text(ZOO + NEW_UNIT)
    result = check(".", "--baseline", ".lrdoctor-baseline.json")
    assert result.exit_code == 1
    assert [line.split(" ")[3] for line in result.stdout.splitlines()] == ["[Acrobot-v1]"]


def test_a_bad_baseline_is_an_input_error_and_a_config_is_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ppo_lstm.yml").write_text(ZOO)
    Path("other.json").write_text('{"lr": 1}')
    assert check(".", "--baseline", "missing.json").exit_code == 2
    assert check(".", "--baseline", "other.json").exit_code == 2
    assert check(".", "--write-baseline", "other.json").exit_code == 2
    assert Path("other.json").read_text() == '{"lr": 1}'
