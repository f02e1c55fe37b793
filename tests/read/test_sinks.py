"""One real run, five records of it: TensorBoard, W&B offline, MLflow SQLite, MLflow file store
(tests/real_sinks, made by scripts/corpus/train_sinks.py), and a real Tune trial's result.json
and progress.csv beside its event file (tests/real_runs/rllib). Each record read alone must get
the run's verdict, findings and numbers as its TensorBoard file does.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app

SINKS = Path(__file__).parents[1] / "real_sinks"
TUNE_TRIAL = next((Path(__file__).parents[1] / "real_runs" / "rllib" / "ppo_lstm_cartpole").iterdir())
(TB_RUN,) = (SINKS / "runs").iterdir()
(WANDB_RUN,) = (SINKS / "wandb").glob("offline-run-*")
(WANDB_FILE,) = WANDB_RUN.glob("run-*.wandb")


def analyze_json(path: Path, cache: Path) -> dict[str, dict]:
    result = CliRunner(env={"LRDOCTOR_CACHE_DIR": str(cache)}).invoke(
        app, ["analyze", str(path), "--format", "json", "--jobs", "1", "--fail-on", "never"]
    )
    assert result.exit_code == 0, result.output
    return {run["name"]: run for run in json.loads(result.stdout)["runs"]}


def main_run_id(store: Path) -> str:
    """The PPO run's id in the SQLite store (the other run there is the NaN one)."""
    with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT run_uuid FROM runs WHERE name = ?", (TB_RUN.name,)).fetchone()[0]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Each record of the run, alone in a directory of its own, analysed."""
    root = tmp_path_factory.mktemp("sinks")
    cache = tmp_path_factory.mktemp("cache")
    shutil.copytree(TB_RUN, root / "tensorboard" / TB_RUN.name)
    (root / "wandb" / WANDB_RUN.name).mkdir(parents=True)
    shutil.copy(WANDB_FILE, root / "wandb" / WANDB_RUN.name)
    (root / "sqlite").mkdir()
    shutil.copy(SINKS / "mlflow.db", root / "sqlite")
    run_id = main_run_id(SINKS / "mlflow.db")
    (file_run,) = [p.parents[1] for p in (SINKS / "mlruns").glob("*/*/tags/mlflow.runName")
                   if p.read_text() == TB_RUN.name]
    shutil.copytree(file_run, root / "mlruns" / file_run.name)
    for name, files in (("tune_json", ("result.json", "params.json")), ("tune_csv", ("progress.csv", "params.json")),
                        ("tune_tb", ("params.json",))):
        (root / name / TUNE_TRIAL.name).mkdir(parents=True)
        for file in files:
            shutil.copy(TUNE_TRIAL / file, root / name / TUNE_TRIAL.name)
    for event in TUNE_TRIAL.glob("events.out.tfevents.*"):
        shutil.copy(event, root / "tune_tb" / TUNE_TRIAL.name)
    one = {}
    for name in ("tensorboard", "wandb", "mlruns", "tune_json", "tune_csv", "tune_tb"):
        (run,) = analyze_json(root / name, cache).values()
        one[name] = run
    one["sqlite"] = analyze_json(root / "sqlite", cache)[f"mlflow.db/1/{run_id}"]
    return one


def judged(run: dict) -> dict:
    """What a report says of a run, without where it was read from."""
    return {
        "verdict": run["verdict"],
        "findings": sorted((f["code"], f["severity"], f["step"]) for f in run["findings"]),
        "library": run["library"],
        "step_axis": run["step_axis"],
        "last_step": run["last_step"],
        "architecture": (run["architecture"]["kind"], run["architecture"]["name"]),
        "lr_shape": {k: v if not isinstance(v, float) else float(np.float32(v)) for k, v in run["lr_shape"].items()},
        # Tune's TensorBoard logger prefixes each key with ray/tune/; its JSON and CSV loggers do not
        "metrics": {name: (m["tag"].removeprefix("ray/tune/"), m["negated"], m["estimator"], m["points"], m["first_step"], m["last_step"])
                    for name, m in run["metrics"].items()},
    }


@pytest.mark.parametrize("sink", ["wandb", "sqlite", "mlruns"])
def test_each_sink_is_judged_as_its_tensorboard_file(reports, sink):
    assert judged(reports[sink]) == judged(reports["tensorboard"])
    assert reports["tensorboard"]["library"] == "cleanrl" and reports["tensorboard"]["verdict"] == "ok"


@pytest.mark.parametrize("record", ["tune_json", "tune_csv"])
def test_a_tune_trial_reads_the_same_from_result_json_progress_csv_and_events(reports, record):
    assert judged(reports[record]) == judged(reports["tune_tb"])
    assert reports[record]["library"] == "rllib"
    assert reports[record]["step_axis"] == "env steps (num_env_steps_sampled_lifetime)"


@pytest.mark.parametrize("sink", ["wandb", "sqlite", "mlruns"])
def test_the_config_each_sink_keeps_names_the_architecture(reports, sink):
    source = reports[sink]["architecture"]["source"]
    assert {"wandb": "W&B config: exp_name", "sqlite": "MLflow params: exp_name",
            "mlruns": "MLflow params: exp_name"}[sink] in source
    assert reports[sink]["config"]["lr"]["value"] == pytest.approx(2.5e-4)


def test_the_numbers_are_the_event_files(tmp_path):
    """Every mapped series, point for point, from each store and from lrdoctor's event reader."""
    from lrdoctor.read.ingest import load

    copies = {"tensorboard": tmp_path / "tb" / TB_RUN.name, "wandb": tmp_path / "wb" / WANDB_RUN.name}
    shutil.copytree(TB_RUN, copies["tensorboard"])
    copies["wandb"].mkdir(parents=True)
    shutil.copy(WANDB_FILE, copies["wandb"])
    runs = {name: load(path.parent, use_cache=False).runs[0] for name, path in copies.items()}
    stores = load(SINKS / "mlruns", use_cache=False).runs + load(SINKS / "mlflow.db", use_cache=False).runs
    runs.update({f"mlflow{index}": run for index, run in enumerate(stores) if "approx_kl" in run.sources["kl"].tag
                 and run.metrics.points("kl")[0].size > 8})
    assert len(runs) == 4
    reference = runs.pop("tensorboard")
    for run in runs.values():
        for metric in reference.metrics:
            steps, values = run.metrics.points(metric)
            expected_steps, expected = reference.metrics.points(metric)
            np.testing.assert_array_equal(steps, expected_steps)
            np.testing.assert_array_equal(values.astype(np.float32), expected.astype(np.float32))


@pytest.mark.parametrize("moved", [False, True])
def test_one_run_recorded_by_tensorboard_and_wandb_is_one_run(tmp_path, moved):
    """CleanRL's --track layout: runs/<name>/ beside wandb/<run>/, which mirrored it. Its log_dir
    is where the corpus was made; a moved copy (a clone) is matched by the log_dir's tail, even
    while the original place still exists."""
    root = shutil.copytree(SINKS, tmp_path / "copy", symlinks=True) if moved else SINKS
    reports = analyze_json(root, tmp_path / "cache")
    assert sorted(reports) == sorted([f"runs/{TB_RUN.name}", *(
        f"mlflow.db/1/{run}" for run in _sqlite_ids()), *(
        p.parent.relative_to(SINKS).as_posix() for p in (SINKS / "mlruns").glob("*/*/meta.yaml"))])
    notes = " ".join(note["message"] for note in reports[f"runs/{TB_RUN.name}"]["notes"])
    assert f"the W&B record of this run (wandb/{WANDB_RUN.name}): TensorBoard used" in notes
    assert f"(wandb_truncated/{WANDB_RUN.name}): TensorBoard used" in notes


def _sqlite_ids() -> list[str]:
    with sqlite3.connect(f"{(SINKS / 'mlflow.db').as_uri()}?mode=ro", uri=True) as connection:
        return [run for (run,) in connection.execute("SELECT run_uuid FROM runs")]


def test_wandb_keeps_a_copy_of_the_event_files_and_it_is_still_one_run(tmp_path):
    """sync_tensorboard links the event file into the W&B run's files/: one run, under the W&B name."""
    run = tmp_path / "wandb" / WANDB_RUN.name
    run.mkdir(parents=True)
    shutil.copy(WANDB_FILE, run)
    shutil.copytree(TB_RUN, run / "files" / "runs" / TB_RUN.name)
    (only,) = analyze_json(tmp_path, tmp_path / "cache").values()
    assert only["name"] == f"wandb/{WANDB_RUN.name}"
    assert any("TensorBoard used" in note["message"] for note in only["notes"])


def test_nan_metrics_in_both_mlflow_stores(tmp_path):
    """MLflow's SQLite store writes a NaN as 0 with is_nan set, the file store as "nan": both read as NaN."""
    from lrdoctor.read.ingest import load

    runs = [run for run in load(SINKS / "mlflow.db", use_cache=False).runs + load(SINKS / "mlruns",
                                                                                   use_cache=False).runs
            if run.metrics.points("kl")[0].size == 8]
    assert len(runs) == 2
    for run in runs:
        steps, values = run.metrics.points("kl")
        assert steps.tolist() == [512 * (i + 1) for i in range(8)]
        assert values[:3].tolist() == [0.004] * 3 and np.isnan(values[3:]).all()
    reports = analyze_json(SINKS / "mlflow.db", tmp_path)
    nan_runs = [run for run in reports.values() if any(f["code"] == "LRD007" for f in run["findings"])]
    assert len(nan_runs) == 1 and nan_runs[0]["verdict"] == "unstable"


def test_wandb_history_is_what_tensorboard_reads():
    """W&B's rows, mirrored from the event file, against TensorBoard's own EventAccumulator. W&B's
    sync makes one row of the events of one step (CleanRL logs two envs' episodes at one step at
    times), so a step logged twice holds the value logged last, as lrdoctor's merge keeps it."""
    accumulator_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    import re

    from lrdoctor.read.wandb import read_wandb_file, wandb_scalars

    accumulator = accumulator_module.EventAccumulator(str(TB_RUN), size_guidance={"scalars": 0})
    accumulator.Reload()
    scalars, _keys, step_key, _ = wandb_scalars(read_wandb_file(WANDB_FILE), re.compile(r"charts/.*|losses/.*"), "")
    assert step_key == "global_step"
    assert set(scalars) == set(accumulator.Tags()["scalars"])
    for tag, (steps, values) in scalars.items():
        last = {event.step: np.float32(event.value) for event in accumulator.Scalars(tag)}
        assert steps.tolist() == list(last)
        assert values.astype(np.float32).tolist() == list(last.values())


def test_a_tune_trial_with_events_and_result_json_is_one_run():
    from lrdoctor.read.discover import discover

    (run,) = discover(TUNE_TRIAL.parent).runs
    assert run.event_files and run.source is None and run.progress_csv is None
    (note,) = run.notes
    assert note.path.endswith("result.json") and note.message.endswith("TensorBoard used")


def test_a_store_given_as_the_argument(tmp_path):
    reports = analyze_json(SINKS / "mlflow.db", tmp_path)
    assert sorted(reports) == sorted(f"mlflow.db/1/{run}" for run in _sqlite_ids())


def test_a_tune_trial_logged_to_wandb(tmp_path):
    """Tune's WandbLoggerCallback logs each result whole: the real trial's results, framed as a
    .wandb file by tests/writers.py (SYNTHETIC framing, real values), read as its event file is."""
    from writers import wandb_config, wandb_history, wandb_log

    from lrdoctor.read.rllib_result import _flattened

    results = [json.loads(line) for line in (TUNE_TRIAL / "result.json").read_text().splitlines()]
    rows = [dict(_flattened(result)) for result in results]
    run = tmp_path / "wandb" / "run-20261201_222515-tune0001"
    run.mkdir(parents=True)
    (run / "run-tune0001.wandb").write_bytes(wandb_log(
        [wandb_config(results[0]["config"])] + [wandb_history(row, index) for index, row in enumerate(rows)]))
    (wandb_run,) = analyze_json(tmp_path, tmp_path / "cache").values()
    shutil.copytree(TUNE_TRIAL, tmp_path / "tb" / TUNE_TRIAL.name, ignore=shutil.ignore_patterns("result.json", "*.csv"))
    (tensorboard,) = analyze_json(tmp_path / "tb", tmp_path / "cache").values()
    assert judged(wandb_run) == judged(tensorboard)
    assert "W&B config: _model_config.use_lstm" in wandb_run["architecture"]["source"]


def test_the_note_on_the_other_record_is_never_served_from_the_cache(tmp_path):
    shutil.copytree(SINKS / "runs", tmp_path / "project" / "runs")
    shutil.copytree(SINKS / "wandb", tmp_path / "project" / "wandb", symlinks=True)
    first = analyze_json(tmp_path / "project", tmp_path / "cache")
    shutil.rmtree(tmp_path / "project" / "wandb")
    second = analyze_json(tmp_path / "project", tmp_path / "cache")
    name = f"runs/{TB_RUN.name}"
    assert any("W&B record" in note["message"] for note in first[name]["notes"])
    assert not any("W&B record" in note["message"] for note in second[name]["notes"])
