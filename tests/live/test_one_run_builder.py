"""One Run builder: ``analyze`` (ingest), ``watch`` and the SB3 callback make their Runs with
``lrdoctor.read.build.build_run``, so the same values give the same Run whichever way they came."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
from writers import synthetic_collapse, write_progress_csv

from lrdoctor.live import monitor, sb3, watch
from lrdoctor.model import Architecture, RunConfig
from lrdoctor.read import build, ingest
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("name", "path", "sources", "step_axis", "library", "architecture", "config", "lr_shape", "unknown_tags",
          "notes")


def copy_samples(tmp_path: Path) -> Path:
    return shutil.copytree(ROOT / "sample_logs", tmp_path / "logs", ignore=shutil.ignore_patterns("*.md"))


def assert_same_run(a, b):
    for field in FIELDS:
        assert getattr(a, field) == getattr(b, field), field
    assert list(a.metrics) == list(b.metrics)
    for name in a.metrics:
        pd.testing.assert_series_equal(a.metrics[name], b.metrics[name])


def polled(root: Path) -> dict[str, object]:
    settings = watch.Settings(options=load_options(cwd=ROOT / "tests"), use_cache=False)
    state, _ = watch.poll(watch.WatchState(), [root], settings)
    return {key: live.result.run for key, live in state.runs.items()}


def test_watch_builds_the_runs_analyze_reads_from_the_same_files(tmp_path):
    logs = copy_samples(tmp_path)
    analysed = {str(run.path): run for run in ingest.load(logs, use_cache=False).runs}
    watched = polled(logs)
    assert sorted(watched) == sorted(analysed) and len(analysed) == 3
    for key, run in analysed.items():
        assert_same_run(run, watched[key])


def test_the_sb3_recorder_builds_the_run_a_progress_csv_of_the_same_values_gives(tmp_path):
    steps, metrics = synthetic_collapse()
    path = write_progress_csv(tmp_path / "run", steps, metrics)
    (read,) = ingest.load(tmp_path, use_cache=False).runs
    recorder = sb3.Recorder()
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(row.pop("time/total_timesteps"))
            recorder.add(step, {tag: float(value) for tag, value in row.items() if value})
    # the callback knows its model: architecture and config are given, not read beside the run
    assert_same_run(read, recorder.run(read.name, read.path, read.architecture, read.config))


def test_analyze_watch_and_the_sb3_callback_call_the_one_builder(tmp_path, monkeypatch):
    assert ingest.build_run is watch.build_run is monitor.build_run is build.build_run
    calls = []

    def counted(caller):
        def builder(found, *args, **kwargs):
            calls.append((caller, found.name))
            return build.build_run(found, *args, **kwargs)
        return builder

    # The SB3 callback's recorder is the live recorder (live/monitor.py), which calls the builder.
    for module in (ingest, watch, monitor):
        monkeypatch.setattr(module, "build_run", counted(module.__name__.rsplit(".", 1)[-1]))
    logs = copy_samples(tmp_path)
    analysed = ingest.load(logs, use_cache=False).runs
    watched = polled(logs)
    recorder = sb3.Recorder()
    recorder.add(2048, {"train/approx_kl": 0.03, "train/learning_rate": 3e-4})
    recorded = recorder.run("RecurrentPPO", tmp_path, Architecture("lstm", True), RunConfig())
    names = sorted(run.name for run in analysed)
    assert sorted(name for caller, name in calls if caller == "ingest") == names
    assert sorted(name for caller, name in calls if caller == "watch") == names
    assert [name for caller, name in calls if caller == "monitor"] == ["RecurrentPPO"]
    assert len(watched) == 3 and recorded.lr_shape.kind == "constant"
