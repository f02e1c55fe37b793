"""Strangers' files named like W&B, MLflow and Tune records: one clear line each, nothing
blocks, nothing is executed, the rest of the sweep is read."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app
from lrdoctor.read.ingest import load
from lrdoctor.read.rllib_result import read_result_json

SINKS = Path(__file__).parents[1] / "real_sinks"
EVERYTHING = re.compile(".*")


def analyze(path: Path, cache: Path):
    return CliRunner(env={"LRDOCTOR_CACHE_DIR": str(cache)}).invoke(
        app, ["analyze", str(path), "--fail-on", "never", "--jobs", "1"])


@pytest.mark.parametrize("name, content, said", [
    ("wandb/run-1-x/run-x.wandb", b"<html>not wandb</html>", "not a W&B run file (no :W&B header)"),
    ("store/mlflow.db", b"SQLite format 3\x00" + b"\x00" * 200, "not an MLflow store"),
    ("store/mlflow.db", b"plain text", "not an SQLite database"),
])
def test_a_file_named_like_a_record_that_is_not_one(tmp_path, name, content, said):
    path = tmp_path / "runs" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = analyze(tmp_path / "runs", tmp_path / "cache")
    assert result.exit_code == 2
    assert said in result.output


def test_fifos_named_like_records_never_block(tmp_path):
    for name in ("wandb/run-1-x/run-x.wandb", "trial/result.json", "store/mlflow.db"):
        (tmp_path / "runs" / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(tmp_path / "runs" / name)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("result", analyze(tmp_path / "runs", tmp_path / "c")),
                              daemon=True)  # a blocked read must fail the test, not hang the session
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "a read blocked on a FIFO"
    assert outcome["result"].exit_code == 2 and outcome["result"].output.count("not a regular file") == 3


def test_a_result_json_of_strangers(tmp_path):
    """SYNTHETIC lines: garbage, a number past float64, NaN (kept: Tune's TensorBoard logger drops it)."""
    trial = tmp_path / "PPO_x_00000"
    trial.mkdir()
    lines = [
        json.dumps({"training_iteration": 1, "timesteps_total": 100, "info": {"learner": {"default_policy": {
            "learner_stats": {"kl": 0.01, "cur_lr": 5e-5}}}}, "config": {"lr": 5e-5}}),
        "{not json",
        json.dumps({"training_iteration": 2, "timesteps_total": 200, "info": {"learner": {"default_policy": {"learner_stats": {"kl": float("nan"), "cur_lr": 5e-5}}}}}),
        '{"training_iteration": 3, "timesteps_total": 300, "big": ' + "9" * 400 + "}",
        '{"training_iteration": 4, "timesteps_total": 40',  # still being written
    ]
    (trial / "result.json").write_text("\n".join(lines))
    scalars, keys, notes, config = read_result_json(trial / "result.json", EVERYTHING)
    steps, values = scalars["info/learner/default_policy/learner_stats/kl"]
    assert steps.tolist() == [100, 200] and values[0] == 0.01 and np.isnan(values[1])
    assert "big" not in keys and config == {"lr": 5e-5}
    said = " ".join(note.message for note in notes)
    assert "incomplete last line" in said and "1 lines that are not a JSON object skipped" in said
    (run,) = load(tmp_path, use_cache=False).runs
    assert run.library == "rllib" and run.config.lr.value == 5e-5 and "result.json config:" in run.config.lr.source


def test_a_result_json_that_is_no_tune_result_is_not_a_run(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "result.json").write_text('{"accuracy": 0.9}\n')
    assert "no readable run" in analyze(tmp_path, tmp_path / "cache").output


def test_an_infinity_in_the_sqlite_store(tmp_path):
    """The SQLite store writes +-Inf as +-1.797e308 (its sanitize_metric_value): read back as Inf.
    A copy of the real store with one value set so, as MLflow would have written it."""
    store = tmp_path / "mlflow.db"
    shutil.copy(SINKS / "mlflow.db", store)
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE metrics SET value = 1.7976931348623157e308 WHERE key = 'losses/value_loss' AND "
                           "step = (SELECT MIN(step) FROM metrics WHERE key = 'losses/value_loss')")
    runs = [run for run in load(tmp_path, use_cache=False).runs if "value_loss" in run.metrics]
    (run,) = runs
    assert np.isposinf(run.metrics.points("value_loss")[1][0])


def test_a_file_store_metric_with_bad_lines(tmp_path):
    (run,) = [p.parents[1] for p in (SINKS / "mlruns").glob("*/*/tags/mlflow.runName")
              if p.read_text() == "nan_metrics"]
    copy = shutil.copytree(run, tmp_path / "mlruns" / "1" / run.name)
    kl = copy / "metrics" / "losses" / "approx_kl"
    kl.write_bytes(kl.read_bytes() + b"garbage line\n1 2\n1796180000000 0.5 4608 extra\n1796180000000 0.6 51")
    (read,) = load(tmp_path, use_cache=False).runs
    steps, _ = read.metrics.points("kl")
    assert steps[0] == 0 and steps[-1] == 4096  # "1 2" is step 0, as MLflow reads a two-field line
    said = " ".join(note.message for note in read.notes)
    assert "incomplete last line" in said and "2 lines that are not '<timestamp> <value> <step>' skipped" in said


def test_deleted_mlflow_runs_are_no_runs(tmp_path):
    """As MLflow's client deletes them: lifecycle_stage set to deleted (in the copy of the real stores)."""
    shutil.copy(SINKS / "mlflow.db", tmp_path / "mlflow.db")
    shutil.copytree(SINKS / "mlruns", tmp_path / "mlruns")
    before = {run.name for run in load(tmp_path, use_cache=False).runs}
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        connection.execute("UPDATE runs SET lifecycle_stage = 'deleted' WHERE name = 'nan_metrics'")
    (meta,) = [p.parents[1] / "meta.yaml" for p in (tmp_path / "mlruns").glob("*/*/tags/mlflow.runName")
               if p.read_text() == "nan_metrics"]
    meta.write_text(meta.read_text().replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    after = {run.name for run in load(tmp_path, use_cache=False).runs}
    assert len(before) == 4 and len(after) == 2 and after < before
