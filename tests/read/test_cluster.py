"""Reading a sweep on a real Dask cluster of worker processes: the report is the local one,
byte for byte; a task that fails, or whose worker dies, is retried once and then reported
for its run alone."""

from __future__ import annotations

import operator
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")

from lrdoctor.cli import app
from lrdoctor.model import ReadNote
from lrdoctor.read import cluster, ingest

TESTS = Path(__file__).resolve().parents[1]
SWEEP = TESTS / "real_sweeps"  # real SB3 PPO runs
SAMPLES = TESTS.parent / "sample_logs"
runner = CliRunner()


@pytest.fixture(scope="module")
def scheduler():
    """Three single-threaded worker processes and their scheduler, on 127.0.0.1; a worker
    that dies is retried once, as ``--cluster`` sets it."""
    import dask

    with cluster.environment_kept(), dask.config.set(
        {"distributed.scheduler.allowed-failures": cluster.RETRIES}
    ), distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as local:
        yield local.scheduler_address


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def analyzed(*args: str):
    result = runner.invoke(app, ["analyze", *args, "--no-cache"])
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.mark.parametrize("format", ["json", "text"])
def test_a_sweep_analysed_on_the_cluster_reports_as_locally(scheduler, format):
    local = analyzed(str(SWEEP), "--jobs", "1", "--format", format)
    on_cluster = analyzed(str(SWEEP), "--scheduler", scheduler, "--format", format)
    assert on_cluster.stdout == local.stdout
    assert on_cluster.stderr == local.stderr


def test_results_are_streamed_to_the_progress_callback_as_they_finish(scheduler):
    seen = []
    with cluster.executor(scheduler) as executor:
        ingested = ingest.load(SWEEP, use_cache=False, executor=executor, on_progress=lambda d, t: seen.append((d, t)))
    assert len(ingested.runs) == 22
    assert seen == [(done, 22) for done in range(1, 23)]


def test_a_failing_task_is_reported_alone_and_the_others_return(scheduler):
    with cluster.executor(scheduler) as executor:
        results = dict(executor(operator.truediv, [(1, 1), (1, 0), (4, 2)]))
    assert results[0] == 1.0 and results[2] == 2.0
    assert isinstance(results[1], ZeroDivisionError)


def test_a_task_whose_worker_dies_is_retried_once_then_reported(scheduler):
    with cluster.executor(scheduler) as executor:
        [(index, result)] = list(executor(os._exit, [(3,)]))  # kills whichever worker runs it
    assert index == 0 and isinstance(result, distributed.KilledWorker)


def test_ingest_reports_a_failed_task_for_its_run_alone(tmp_path):
    def flaky(function, tasks):  # an executor whose second task was lost twice
        for index, task in enumerate(tasks):
            yield index, RuntimeError("worker lost") if index == 1 else function(*task)

    ingested = ingest.load(SWEEP, use_cache=False, executor=flaky)
    assert len(ingested.runs) == 21
    [problem] = ingested.problems
    assert isinstance(problem, ReadNote) and "its task failed twice: RuntimeError: worker lost" in problem.message


def test_a_local_cluster_started_by_the_command(tmp_path):
    run = SAMPLES / "graph_free_gru_constant_lr"
    assert analyzed(str(run), "--cluster", "2").stdout == analyzed(str(run), "--jobs", "1").stdout


# What Dask's nanny sets in the process that starts a local cluster.
DASK_SETTINGS = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_", "PYTHONHASHSEED",
)


def test_a_local_cluster_leaves_this_process_s_environment_as_it_was(monkeypatch):
    """A script that analyses on --cluster's local cluster, then trains, must not train with
    the single-threaded settings Dask gives its workers."""
    for name in DASK_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's own setting stays theirs
    before = dict(os.environ)
    with cluster.executor(local_workers=1) as run_all:
        assert [result for _, result in run_all(operator.add, [(1, 2)])] == [3]
    assert dict(os.environ) == before


def test_scheduler_and_cluster_together_are_a_usage_error():
    result = runner.invoke(app, ["analyze", str(SAMPLES), "--scheduler", "tcp://127.0.0.1:1", "--cluster", "2"])
    assert result.exit_code == 2 and "give one of them" in result.stderr
