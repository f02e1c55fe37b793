"""``check``'s outputs name the unit, and text is ruff's shape: the line, the source, a caret (issues 16, 18)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lrdoctor.check import CheckResult, check_paths
from lrdoctor.cli import app
from lrdoctor.report.check import render_text
from lrdoctor.rules.options import default_options

ZOO = """\
CartPole-v1:
  policy: MlpLstmPolicy
  learning_rate: lin_3e-4
  target_kl: 0.02
Acrobot-v1:
  policy: MlpLstmPolicy
  learning_rate: lin_3e-4
  target_kl: 0.02
"""
runner = CliRunner()


def zoo(tmp_path: Path) -> Path:
    path = tmp_path / "ppo_lstm.yml"
    path.write_text(ZOO)
    return path


def test_full_text_shows_the_source_line_and_a_caret_under_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zoo(tmp_path)
    lines = runner.invoke(app, ["check", "ppo_lstm.yml"]).stdout.splitlines()
    assert lines[0].startswith("ppo_lstm.yml:3:3: LRD003 warning [CartPole-v1] ")
    assert lines[1:4] == ["  |", "3 |   learning_rate: lin_3e-4", "  |   ^^^^^^^^^^^^^"]
    assert lines[4] == ""
    assert lines[5].startswith("ppo_lstm.yml:7:3: LRD003 warning [Acrobot-v1] ")


def test_concise_is_one_line_a_finding_with_the_unit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zoo(tmp_path)
    lines = runner.invoke(app, ["check", "--format", "concise", "ppo_lstm.yml"]).stdout.splitlines()
    assert [line.split(" ", 3)[:3] for line in lines] == [
        ["ppo_lstm.yml:3:3:", "LRD003", "warning"], ["ppo_lstm.yml:7:3:", "LRD003", "warning"]]
    assert "[CartPole-v1]" in lines[0] and "[Acrobot-v1]" in lines[1]


def test_colour_only_when_asked_and_the_sources_escape_codes_never_pass(tmp_path):
    (finding,) = [f for f in check_paths([zoo(tmp_path)], default_options()).findings if f.line == 3]
    hostile = "  learning_rate: lin_3e-4  # [red]\x1b[2J"  # a clear-screen and rich markup in the source
    result = CheckResult((finding,), 1, 1, 0, {finding.file: {3: hostile}})
    plain = render_text(result)
    assert "\x1b" not in plain and "\\x1b[2J" in plain  # shown escaped, never sent
    coloured = render_text(result, colour=True)
    assert "\x1b[" in coloured and "\x1b[2J" not in coloured and "[red]" in coloured


def test_the_unit_is_named_in_json_sarif_and_github(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zoo(tmp_path)
    found = json.loads(runner.invoke(app, ["check", "-f", "json", "ppo_lstm.yml"]).stdout)["findings"]
    assert [f["unit"] for f in found] == ["CartPole-v1", "Acrobot-v1"]
    sarif = json.loads(runner.invoke(app, ["check", "-f", "sarif", "ppo_lstm.yml"]).stdout)
    results = sarif["runs"][0]["results"]
    assert [r["locations"][0]["logicalLocations"][0]["name"] for r in results] == ["CartPole-v1", "Acrobot-v1"]
    assert results[0]["message"]["text"].startswith("[CartPole-v1] ")
    github = runner.invoke(app, ["check", "-f", "github", "ppo_lstm.yml"]).stdout.splitlines()
    assert "title=LRD003 no-warmup-recurrent [CartPole-v1]" in github[0]


def test_a_one_unit_file_is_named_as_its_framework_names_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ant.yaml").write_text(
        "params:\n  network:\n    rnn:\n      name: lstm\n  config:\n    name: AntLSTM\n"
        "    lr_schedule: linear\n    learning_rate: 3e-4\n")
    line = runner.invoke(app, ["check", "--format", "concise", "ant.yaml"]).stdout.splitlines()[0]
    assert line.startswith("ant.yaml:7:5: LRD003 warning [AntLSTM] ")
