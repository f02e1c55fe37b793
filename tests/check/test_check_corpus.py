"""`lrdoctor check` over a corpus of configs written in each library's real layout.

Every file under tests/check_corpus/fail must give exactly the findings listed
here (code and line); every file under tests/check_corpus/pass must give none.
Values in the corpus are synthetic; layouts and key names are the libraries' own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrdoctor.check import check_paths
from lrdoctor.check.lint import display
from lrdoctor.cli import app
from lrdoctor.rules.options import default_options

CORPUS = Path(__file__).resolve().parents[1] / "check_corpus"

# file: [(code, line), ...]: one line per finding, messages are not compared.
EXPECTED = {
    "originating_bug.yaml": [("LRD002", 17)],
    "zoo_ppo_lstm.yml": [("LRD003", 12), ("LRD002", 21), ("LRD012", 22), ("LRD002", 38), ("LRD012", 38)],
    "rllib_tuned_lstm.yaml": [("LRD002", 10), ("LRD003", 23)],
    "rllib_params.json": [("LRD002", 4)],
    "sample_factory_cfg.json": [("LRD002", 11), ("LRD012", 12)],
    "sample_factory_defaults.yaml": [("LRD002", 6)],
    "rl_games_lstm.yaml": [("LRD003", 21), ("LRD012", 22)],
    "rl_games_adaptive_loose.yaml": [("LRD003", 11), ("LRD012", 12)],
    "skrl_kl_adaptive_loose.yaml": [("LRD003", 12), ("LRD012", 14)],
    # a KL-adaptive LR starts at the full LR: on a recurrent policy it is no warmup (issue 16)
    "rl_games_adaptive_lstm.yaml": [("LRD003", 11)],
    "sample_factory_adaptive_gru.json": [("LRD003", 7)],
    "train_warmup_off.toml": [("LRD002", 8)],
    "transformer_cosine.json": [("LRD003", 4)],
}
# Exit code with the default --fail-on error: 1 only where an error is found.
EXIT_CODES = {name: 1 if any(code == "LRD002" for code, _ in found) else 0 for name, found in EXPECTED.items()}

runner = CliRunner()


def findings_of(path: Path):
    return check_paths([path], default_options()).findings


def test_every_fail_file_is_listed():
    assert sorted(p.name for p in (CORPUS / "fail").iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fail_corpus_codes_and_lines(name):
    found = findings_of(CORPUS / "fail" / name)
    assert sorted((f.code, f.line) for f in found) == sorted(EXPECTED[name])
    for finding in found:
        assert finding.file.endswith(name)
        assert finding.column >= 1
        assert "Fix:" in finding.message


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fail_corpus_exit_codes(name):
    result = runner.invoke(app, ["check", str(CORPUS / "fail" / name)])
    assert result.exit_code == EXIT_CODES[name], result.output


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "pass").iterdir()))
def test_pass_corpus_is_clean(name):
    assert findings_of(CORPUS / "pass" / name) == ()
    result = runner.invoke(app, ["check", "--fail-on", "warning", str(CORPUS / "pass" / name)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_findings_point_at_the_key_at_fault():
    lines = (CORPUS / "fail" / "originating_bug.yaml").read_text().splitlines()
    (finding,) = findings_of(CORPUS / "fail" / "originating_bug.yaml")
    assert lines[finding.line - 1][finding.column - 1:].startswith("warmup_architectures:")
    zoo = (CORPUS / "fail" / "zoo_ppo_lstm.yml").read_text().splitlines()
    declared = [f for f in findings_of(CORPUS / "fail" / "zoo_ppo_lstm.yml") if f.evidence["declared"]]
    assert len(declared) == 3
    for finding in declared:
        key = finding.evidence["key"]
        assert zoo[finding.line - 1][finding.column - 1:].startswith(key.split(".")[-1] + ":")


def test_originating_bug_fails_then_passes_with_the_recommended_schedule(tmp_path):
    bug = CORPUS / "fail" / "originating_bug.yaml"
    result = runner.invoke(app, ["check", str(bug)])
    assert result.exit_code == 1
    assert re.match(rf"{re.escape(display(bug))}:17:3: LRD002 error ", result.stdout)
    assert "graph_free" in result.stdout and "GRU" in result.stdout

    (finding,) = findings_of(bug)
    assert finding.fix["knots"] == [[0, 3e-6], [500_000, 3e-5], [5_000_000, 3e-4], [20_000_000, 3e-5]]
    assert finding.fix["schedule"]["total_steps_source"] == "total_timesteps"
    # Apply the fix as the finding spells it, in the trainer's own words: give graph_free its warmup.
    assert finding.fix["config"] == {"key": "lr_schedule.warmup_architectures",
                                     "value": ["attention", "mamba", "graph_free"]}
    text = bug.read_text()
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(text.replace("[attention, mamba]", "[attention, mamba, graph_free]"))
    result = runner.invoke(app, ["check", "--fail-on", "warning", str(fixed)])
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ""


def test_rllib_fix_is_the_exact_piecewise_schedule():
    (_, finding) = sorted(findings_of(CORPUS / "fail" / "rllib_tuned_lstm.yaml"), key=lambda f: f.line)
    assert finding.fix["config"]["key"] == "config.lr_schedule"
    assert finding.fix["knots"] == [[0, 3e-6], [50_000, 3e-5], [500_000, 3e-4], [2_000_000, 3e-5]]
    # YAML files get floats PyYAML (YAML 1.1) reads as floats: a dot in the mantissa.
    assert finding.fix["config"]["value"] == "[[0, 3.0e-6], [50000, 3.0e-5], [500000, 0.0003], [2000000, 3.0e-5]]"


def test_whole_corpus_directory_reports_every_file():
    result = runner.invoke(app, ["check", "--format", "concise", str(CORPUS / "fail"), str(CORPUS / "pass")])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == sum(len(v) for v in EXPECTED.values())
    assert "lrdoctor check:" in result.stderr
