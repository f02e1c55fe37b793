"""SARIF from analyze: a run finding's location is its run's path, so code scanning can link it."""

import json

import pytest
from typer.testing import CliRunner
from writers import synthetic_collapse, write_run

from lrdoctor.cli import app
from lrdoctor.report.sarif import run_location

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def sarif_uris(*args) -> set[str]:
    result = runner.invoke(app, ["analyze", *map(str, args), "--format", "sarif", "--jobs", "1"])
    assert result.exit_code == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert results
    return {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}


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


def test_run_location(tmp_path):
    assert run_location("a/../b/run", tmp_path) == "b/run"
    assert run_location(tmp_path / "b", tmp_path) == "b"
    assert run_location("../x", tmp_path) == (tmp_path.parent / "x").as_posix()
