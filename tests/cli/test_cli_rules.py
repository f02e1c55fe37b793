"""`lrdoctor rules` through the real CLI, against the real rule registry."""

import pytest
from typer.testing import CliRunner

from lrdoctor import rules as registry
from lrdoctor.cli import app

runner = CliRunner()


def test_lists_every_rule_with_severity_and_options():
    result = runner.invoke(app, ["rules"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for module in registry.RULES.values():
        row = next(line for line in result.stdout.splitlines() if module.CODE in line)
        assert module.SLUG in row and module.SEVERITY.value in row and module.SCOPE in row
    kl = registry.get("LRD001")
    for name, value in kl.OPTIONS.items():
        assert name in result.stdout


@pytest.mark.parametrize("name", ["LRD001", "lrd001", "kl-exceeded"])
def test_explains_one_rule_by_code_or_slug(name):
    result = runner.invoke(app, ["rules", name], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    module = registry.get("LRD001")
    # the rule's own documentation, word for word (re-wrapped), its markup rendered, not shown
    shown = " ".join(result.stdout.split())
    for line in (module.__doc__ or "").strip().splitlines()[1:6]:
        assert " ".join(line.replace("``", "").split()) in shown
    assert "``" not in result.stdout and "::" not in result.stdout
    assert "--set kl-exceeded.threshold=" in result.stdout


@pytest.mark.parametrize("module", list(registry.RULES.values()), ids=lambda m: m.CODE)
def test_every_rule_explained_without_restructuredtext(module):
    result = runner.invoke(app, ["rules", module.CODE], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "``" not in result.stdout and "::" not in result.stdout.replace("[tool", "")
    assert all(len(line.rstrip()) <= 80 for line in result.stdout.splitlines())


def test_unknown_rule_is_one_line_and_exit_2():
    result = runner.invoke(app, ["rules", "LRD999"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "LRD999" in result.stderr


def test_version():
    from typer.testing import CliRunner

    from lrdoctor.cli import app
    from lrdoctor.version import VERSION

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"lrdoctor {VERSION}\n"


@pytest.mark.parametrize("columns", [80, 100])
def test_rules_at_a_narrow_width_or_piped_cut_no_code_or_slug(columns, monkeypatch):
    """At 80 columns (and whenever piped, which rich gives 80) every code and slug is there whole
    (issue 18: the table cut them to "LRD0…")."""
    from typer.testing import CliRunner

    from lrdoctor import rules as registry
    from lrdoctor.cli import app

    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(app, ["rules"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    for module in registry.RULES.values():
        assert any(line.startswith(f"{module.CODE} {module.SLUG}") for line in lines), module.CODE
