"""The conventions every command keeps: one-line usage errors, help without Python types, completion."""

import re

import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app

runner = CliRunner()
COMMANDS = ["analyze", "check", "rules", "plot-schedule", "watch"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["analyze"], "Missing argument 'PATH'"),
        (["analyze", "x", "--no-such-option"], "No such option: --no-such-option"),
        (["analyze", "x", "--format", "yaml"], "'yaml' is not one of"),
        (["check", "x", "--fail-on", "sometimes"], "'sometimes' is not one of"),
        (["plot-schedule", "--base-lr", "high"], "Invalid value for '--base-lr'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, says):
    result = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lrdoctor: error: ") and says in lines[0]
    assert "--help" in lines[0] and "╭" not in lines[0]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["lrdoctor", *COMMANDS])
def test_help_names_values_as_typed_never_as_python_types(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert not re.search(r"<(list\[|bool|int|str|float|path|Path)", result.stdout), result.stdout
    assert "list[" not in result.stdout


def test_help_shows_choices_and_values():
    result = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "120"})
    assert "text|json|markdown|sarif" in result.stdout
    assert "RULE.OPTION=VALUE" in result.stdout and "PATH" in result.stdout


def test_shell_completion_is_offered():
    """typer's --install-completion / --show-completion (which detect the user's shell from the
    process tree, so their script is not asserted here; the protocol below is)."""
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_completion_completes_commands_and_choices(monkeypatch):
    """What the shell gets back when the user presses Tab (typer's completion protocol)."""
    env = {"_LRDOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": "lrdoctor an", "COMP_CWORD": "1"}
    result = runner.invoke(app, [], env=env, prog_name="lrdoctor")
    assert "analyze" in result.stdout
    env = {"_LRDOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": "lrdoctor analyze x --format ", "COMP_CWORD": "4"}
    result = runner.invoke(app, [], env=env, prog_name="lrdoctor")
    assert {"text", "json", "markdown", "sarif"} <= set(result.stdout.split())
