"""SARIF from analyze: a run finding's location is a file of its run (the log file, or the config
line that declared the LR), relative to the working directory, so code scanning can link it."""

import json
from pathlib import Path

import pytest
from sarif_schema import sarif_schema
from typer.testing import CliRunner
from writers import synthetic_collapse, write_run

from lrdoctor.cli import app
from lrdoctor.report.sarif import run_location

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def sarif_uris(*args) -> set[str]:
    """The run's directory of each location (each must be a file in it: an event file here)."""
    result = runner.invoke(app, ["analyze", *map(str, args), "--format", "sarif", "--jobs", "1"])
    assert result.exit_code == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert results
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert all(uri.rsplit("/", 1)[1].startswith("events.out.tfevents.") for uri in uris), uris
    return {uri.rsplit("/", 1)[0] for uri in uris}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """SYNTHETIC: a checkout holding runs/sweep/RecurrentPPO_1, the working directory."""
    steps, metrics = synthetic_collapse(n=60)
    write_run(tmp_path / "repo" / "runs" / "sweep" / "RecurrentPPO_1", "recurrent_ppo", steps, metrics)
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


@pytest.mark.parametrize("argument", ["runs/sweep", "runs", "./runs/sweep/"])
def test_run_finding_is_located_at_the_run_path_relative_to_the_working_directory(repo, argument):
    # the run's name ("RecurrentPPO_1", "sweep/RecurrentPPO_1") depends on the argument; its location does not
    assert sarif_uris(argument) == {"runs/sweep/RecurrentPPO_1"}


def test_an_absolute_argument_under_the_working_directory_is_still_relative(repo):
    assert sarif_uris(repo / "runs" / "sweep") == {"runs/sweep/RecurrentPPO_1"}


def test_a_run_outside_the_working_directory_is_an_absolute_file_uri(repo, tmp_path):
    steps, metrics = synthetic_collapse(n=60)
    write_run(tmp_path / "elsewhere" / "PPO_1", "recurrent_ppo", steps, metrics)
    assert sarif_uris(tmp_path / "elsewhere") == {"file://" + (tmp_path / "elsewhere" / "PPO_1").as_posix()}


def test_a_config_finding_points_at_the_config_line_that_set_the_lr(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = runner.invoke(app, ["analyze", "sample_logs/graph_free_gru_constant_lr", "--format", "sarif"])
    (lrd002,) = [r for r in json.loads(result.stdout)["runs"][0]["results"] if r["ruleId"] == "LRD002"]
    where = lrd002["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "sample_logs/graph_free_gru_constant_lr/config.json"
    lines = Path(where["artifactLocation"]["uri"]).read_text().splitlines()
    assert "lr" in lines[where["region"]["startLine"] - 1].lower()


def test_analyze_sarif_validates_against_the_schema(tmp_path, monkeypatch):
    jsonschema = pytest.importorskip("jsonschema")
    schema = sarif_schema()
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = runner.invoke(app, ["analyze", "sample_logs", "--format", "sarif"])
    jsonschema.validate(json.loads(result.stdout), schema)


def test_run_location(tmp_path):
    assert run_location("a/../b/run", tmp_path) == "b/run"
    assert run_location(tmp_path / "b", tmp_path) == "b"
    assert run_location("../x", tmp_path) == (tmp_path.parent / "x").as_posix()
