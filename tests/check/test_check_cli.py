"""`lrdoctor check` through the CLI: output formats, exit codes, suppressions, allow-list, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from lrdoctor.cli import app
from lrdoctor.model import Finding, Severity
from lrdoctor.report import github, sarif

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parents[1] / "check_corpus"
SARIF_SCHEMA = REPO.parent / "shared" / "data" / "sarif-schema-2.1.0.json"

runner = CliRunner()

RECURRENT_CONSTANT = "model:\n  type: gru\nlearning_rate: 3.0e-4\ntotal_timesteps: 1000000\n"


def check(*args: str, cwd: Path | None = None, monkeypatch=None):
    if cwd is not None:
        monkeypatch.chdir(cwd)
    return runner.invoke(app, ["check", "--format", "concise", *args])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_text_lines_and_summary_on_stderr(tmp_path, monkeypatch):
    write(tmp_path, "train.yaml", RECURRENT_CONSTANT)
    result = check("train.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert result.stdout.startswith("train.yaml:3:1: LRD002 error ")
    assert result.stderr.strip() == "lrdoctor check: 1 file, 1 unit: 1 error"


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 0), ("warning", 1), ("never", 0)])
def test_fail_on_levels(tmp_path, fail_on, expected):
    path = write(tmp_path, "cosine.yaml", "model: {type: lstm}\nlr: 3.0e-4\nlr_schedule: cosine\n")
    result = check("--fail-on", fail_on, str(path))
    assert result.exit_code == expected
    assert "LRD003 warning" in result.stdout


def test_fail_on_never_still_reports_errors(tmp_path):
    path = write(tmp_path, "train.yaml", RECURRENT_CONSTANT)
    result = check("--fail-on", "never", str(path))
    assert result.exit_code == 0 and "LRD002" in result.stdout


def test_select_and_ignore_by_code_slug_and_prefix(tmp_path):
    path = write(tmp_path, "train.yaml", RECURRENT_CONSTANT)
    assert check("--ignore", "LRD002", str(path)).exit_code == 0
    assert check("--ignore", "constant-lr-recurrent", str(path)).stdout == ""
    assert check("--select", "LRD00", str(path)).exit_code == 1
    assert check("--select", "LRD003", str(path)).stdout == ""
    unknown = check("--select", "nope", str(path))
    assert unknown.exit_code == 2 and "unknown rule" in unknown.stderr


@pytest.mark.parametrize(
    "comment_line",
    [
        "learning_rate: 3.0e-4  # lrdoctor: ignore[LRD002]",
        "learning_rate: 3.0e-4  # lrdoctor: ignore[constant-lr-recurrent, LRD012]",
        "learning_rate: 3.0e-4  # lrdoctor: ignore",
    ],
)
def test_inline_suppression_on_the_finding_line(tmp_path, comment_line):
    text = RECURRENT_CONSTANT.replace("learning_rate: 3.0e-4", comment_line)
    assert check(str(write(tmp_path, "train.yaml", text))).exit_code == 0


def test_suppression_for_another_code_does_not_hide(tmp_path):
    text = RECURRENT_CONSTANT.replace("learning_rate: 3.0e-4", "learning_rate: 3.0e-4  # lrdoctor: ignore[LRD003]")
    assert check(str(write(tmp_path, "train.yaml", text))).exit_code == 1


def test_suppression_on_the_units_first_line(tmp_path):
    zoo = (
        "# lrdoctor: ignore[LRD002]\nA-v1:\n  policy: MlpLstmPolicy\n  learning_rate: !!float 1e-3\n  target_kl: 0.02\n"
        "B-v1:  # lrdoctor: ignore[LRD002]\n  policy: MlpLstmPolicy\n  learning_rate: !!float 1e-3\n  target_kl: 0.02\n"
        "C-v1:\n  policy: MlpLstmPolicy\n  learning_rate: !!float 1e-3\n  target_kl: 0.02\n"
    )
    result = check(str(write(tmp_path, "ppo_lstm.yml", zoo)))
    assert result.exit_code == 1
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == ["12"]


def test_suppression_in_toml(tmp_path):
    text = '[model]\narch = "gru"\n[optim]\nlr = 3e-4  # lrdoctor: ignore[LRD002]\n'
    assert check(str(write(tmp_path, "train.toml", text))).exit_code == 0


def test_allow_list_from_pyproject(tmp_path, monkeypatch):
    write(tmp_path, "pyproject.toml", '[tool.lrdoctor]\nallow = ["legacy/*.yaml", "zoo.yml:A-*"]\n')
    write(tmp_path, "legacy/old.yaml", RECURRENT_CONSTANT)
    write(tmp_path, "zoo.yml", "A-v1:\n  policy: MlpLstmPolicy\nB-v1:\n  policy: MlpLstmPolicy\n")
    result = check(".", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("zoo.yml:4:") for line in lines)


def test_parse_error_is_a_finding_after_checking_the_other_files(tmp_path):
    write(tmp_path, "a_broken.yaml", "a: [1, 2\nb: 3\n")
    write(tmp_path, "b_broken.json", '{"a": 1,}')
    write(tmp_path, "c_train.yaml", RECURRENT_CONSTANT)
    result = check(str(tmp_path))
    assert result.exit_code == 1
    assert "c_train.yaml:3:1: LRD002" in result.stdout
    errors = [line for line in result.stdout.splitlines() if " LRD013 error parse error: " in line]
    assert len(errors) == 2
    assert errors[0].startswith(f"{(tmp_path / 'a_broken.yaml').as_posix()}:2:2: LRD013 error parse error: ")
    assert errors[1].startswith(f"{(tmp_path / 'b_broken.json').as_posix()}:1:9: LRD013 error parse error: ")


def test_binary_and_huge_files_are_findings_not_passes(tmp_path):
    (tmp_path / "weights.yaml").write_bytes(b"\x00\x01binary")
    (tmp_path / "huge.json").write_bytes(b"[" + b"0," * 1_100_000 + b"0]")
    write(tmp_path, "ok.yaml", "lr: 1.0e-3\n")
    result = check(str(tmp_path))
    assert result.exit_code == 1
    assert "weights.yaml:1:1: LRD013 error not read: binary file" in result.stdout
    assert "huge.json:1:1: LRD013 error not read: " in result.stdout and "limit" in result.stdout


def test_alias_bomb_is_a_parse_error_not_a_hang(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    result = check(str(write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")))
    assert result.exit_code == 1
    assert "LRD013 error parse error: " in result.stdout


def test_missing_path_is_a_usage_error(tmp_path):
    result = check(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr.startswith("lrdoctor: error:")


def test_hidden_directories_are_not_searched(tmp_path):
    write(tmp_path, ".venv/lib/x.yaml", RECURRENT_CONSTANT)
    write(tmp_path, "ok.yaml", "lr: 1.0e-3\n")  # a tree with no config at all is exit 2
    assert check(str(tmp_path)).exit_code == 0


def test_json_format_and_output_file(tmp_path):
    config = write(tmp_path, "train.yaml", RECURRENT_CONSTANT)
    out = tmp_path / "reports" / "check.json"
    result = check("--format", "json", "--output", str(out), str(config))
    assert result.exit_code == 1
    assert result.stdout == ""
    document = json.loads(out.read_text())
    (finding,) = document["findings"]
    assert (finding["code"], finding["rule"], finding["severity"], finding["line"], finding["column"]) == (
        "LRD002", "constant-lr-recurrent", "error", 3, 1)
    assert finding["fix"]["knots"][0] == [0, 3e-6]
    assert document["summary"] == {
        "files": 1, "units": 1, "not_read": 0, "findings": {"error": 1, "warning": 0, "info": 0}}


def test_github_annotations(tmp_path, monkeypatch):
    write(tmp_path, "train.yaml", RECURRENT_CONSTANT)
    result = check("--format", "github", "train.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.stdout.startswith("::error file=train.yaml,line=3,col=1,title=LRD002 constant-lr-recurrent::")
    assert result.stdout.count("\n") == 1


def test_github_escapes_properties_and_data():
    finding = Finding("LRD012", "kl-guard-config", Severity.info, "a: b, 100%\nnext", file="c,d:e.yaml", line=2)
    line = github.render([finding])
    # the newline is shown, not kept: the message stays one line, as in every format
    assert line == "::notice file=c%2Cd%3Ae.yaml,line=2,title=LRD012 kl-guard-config::a: b, 100%25\\nnext\n"


def _sarif_schema():
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF 2.1.0 schema not found at {SARIF_SCHEMA} (../shared/data from the project root)")
    return json.loads(SARIF_SCHEMA.read_text())


def test_sarif_of_the_corpus_is_valid_sarif_2_1_0():
    jsonschema = pytest.importorskip("jsonschema")
    schema = _sarif_schema()
    result = check("--format", "sarif", str(CORPUS / "fail"))
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema)
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert {"LRD002", "LRD003", "LRD012"} <= set(ids)
    for item in run["results"]:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        region = item["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    levels = {item["level"] for item in run["results"]}
    assert levels == {"error", "warning", "note"}


def test_sarif_renders_run_findings_without_a_file():
    jsonschema = pytest.importorskip("jsonschema")
    schema = _sarif_schema()
    finding = Finding("LRD001", "kl-exceeded", Severity.error, "approx KL exceeded 0.02", run="sweep/seed 1", step=3)
    document = json.loads(sarif.render([finding]))
    jsonschema.validate(document, schema)
    (item,) = document["runs"][0]["results"]
    location = item["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "sweep/seed%201"
    assert item["properties"]["run"] == "sweep/seed 1"


def test_example_workflow_and_pre_commit_hook_parse():
    yaml = YAML(typ="safe", pure=True)
    workflow = yaml.load((CORPUS / "ci" / "lrdoctor-check.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    assert any("lrdoctor check" in step.get("run", "") for step in steps)
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    (hook,) = yaml.load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "lrdoctor-check" and hook["entry"].startswith("lrdoctor check")
    assert hook["language"] == "python"


def test_rule_options_and_severity_from_the_config_file(tmp_path, monkeypatch):
    write(tmp_path, "lrdoctor.toml", "[rules.kl-guard-config]\nmax_target_kl = 0.5\n")
    write(tmp_path, "skrl.yaml", (CORPUS / "fail" / "skrl_kl_adaptive_loose.yaml").read_text())
    assert check("--select", "LRD012", "skrl.yaml", cwd=tmp_path, monkeypatch=monkeypatch).stdout == ""
    write(tmp_path, "lrdoctor.toml", '[rules.LRD012]\nseverity = "error"\n')
    write(tmp_path, "zoo.yml", "A-v1:\n  policy: MlpLstmPolicy\n  learning_rate: lin_1e-3\n")
    result = check("--select", "LRD012", "zoo.yml", cwd=tmp_path, monkeypatch=monkeypatch)
    # An overridden severity wins over the rule's own "info" grade for an absent target_kl.
    assert result.exit_code == 1
    assert result.stdout.startswith("zoo.yml:3:3: LRD012 error [A-v1] no target_kl")
