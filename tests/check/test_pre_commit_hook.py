"""The pre-commit hook runs only on files that look like training configs (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from lrdoctor.cli import app

REPO = Path(__file__).resolve().parents[2]
(HOOK,) = YAML(typ="safe", pure=True).load((REPO / ".pre-commit-hooks.yaml").read_text())

TRAINING = ["hyperparams/ppo_lstm.yml", "rl_zoo3/hyperparams/dqn.yml", "cfg/train/AntLSTMPPO.yaml",
            "isaacgymenvs/cfg/task/Ant.yaml", "rllib/tuned_examples/ppo/cartpole-ppo.yaml",
            "source/tasks/ant/agents/skrl_ppo_cfg.yaml", "logs/rl_games/ant/params/agent.yaml",
            "train_dir/doom/cfg.json", "configs/trainer.toml", "ppo_gru.yaml", "my_rl_games_cfg.yaml"]
UNRELATED = [".vscode/settings.json", ".github/workflows/ci.yml", "package.json", "web/tsconfig.json",
             "pyproject.toml", ".pre-commit-config.yaml", "docker-compose.yml", "mkdocs.yml", "environment.yml",
             "docs/conf.py", "configs/notes.md", "node_modules/x/configs/a.json", ".readthedocs.yaml"]


def selected(path: str) -> bool:
    """As pre-commit selects: ``files`` and not ``exclude``, both ``re.search``."""
    return bool(re.search(HOOK["files"], path)) and not re.search(HOOK["exclude"], path)


@pytest.mark.parametrize("path", TRAINING)
def test_training_configs_are_passed_to_the_hook(path):
    assert selected(path)


@pytest.mark.parametrize("path", UNRELATED)
def test_unrelated_files_are_not(path):
    assert not selected(path)


def test_json_with_comments_is_read_not_an_error(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  // the editor\n  "editor.tabSize": 2, /* two */\n  "files.exclude": {"**/.git": true,},\n}\n')
    result = CliRunner().invoke(app, ["check", str(settings)])
    assert result.exit_code == 0, result.output


def test_the_readme_pins_a_commit_not_a_tag_that_does_not_exist():
    text = (REPO / "README.md").read_text()
    block = text[text.index("pre-commit (`.pre-commit-hooks.yaml`"):][:600]
    assert "rev: v0.1.0" not in block and "full commit SHA" in block
