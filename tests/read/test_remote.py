"""Sweeps in object storage, through a real S3 API: moto's server on 127.0.0.1, s3fs as the
client, the committed sample_logs and real_sweeps uploaded unchanged. A report read from the
bucket equals the report read from the same files on disk, paths aside; faults (a missing
object, a listing that changes under the read, a truncated object, hostile keys) are each
reported for their run alone."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from lrdoctor.cli import app
from lrdoctor.read import ingest, remote

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "sample_logs"
SWEEP = TESTS / "real_sweeps"  # real SB3 PPO runs, each with its config.yaml
BUCKET = "lab-sweeps"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server on a free local port, the AWS variables pointing at it (the backend's
    own chain: nothing lrdoctor-specific), and an s3fs client; stopped after the module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server.start()
    host, port = server.get_host_and_port()
    saved = dict(os.environ)
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-never-shown", "AWS_DEFAULT_REGION": "us-east-1",
    })
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(BUCKET)
    fs.put(str(SWEEP) + "/", f"{BUCKET}/real_sweeps/", recursive=True)
    fs.put(str(SAMPLES) + "/", f"{BUCKET}/sample_logs/", recursive=True)
    yield fs
    os.environ.clear()
    os.environ.update(saved)
    server.stop()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def analyzed(*args: str, format: str = "json"):
    result = runner.invoke(app, ["analyze", *args, "--format", format, "--jobs", "1"])
    assert result.exit_code in (0, 1), result.output
    return result


def side_by_side(s3, tmp_path, source: Path, uploaded: str) -> tuple[Path, str]:
    """The same files on disk and in the bucket, at a path and a URL of the same length, so
    that their reports may be compared byte for byte once the one is put for the other
    (a text report pads its lines to the longest)."""
    local = Path(shutil.copytree(source, tmp_path / "copy" / source.name))
    pad = len(str(local)) - len(f"s3://{BUCKET}//{source.name}")
    url = f"s3://{BUCKET}/{'p' * pad}/{source.name}"
    s3.copy(f"{BUCKET}/{uploaded}/", url[5:] + "/", recursive=True)
    assert len(url) == len(str(local))
    return local, url


# The whole sweep in one format, a part of it (four runs) in the others: the same code paths.
@pytest.mark.parametrize(("format", "part"), [("json", ""), ("text", "/all_healthy"), ("markdown", "/all_healthy"),
                                              ("sarif", "/all_healthy")])
def test_a_report_from_the_bucket_equals_the_report_from_disk(s3, tmp_path, format, part):
    local, url = side_by_side(s3, tmp_path, Path(str(SWEEP) + part), "real_sweeps" + part)
    on_disk, in_bucket = analyzed(str(local), format=format), analyzed(url, format=format)
    # SARIF names a local run by a file:// URI, a run in the bucket by its own URL.
    uri = '"uri": "'
    assert in_bucket.stdout.replace(uri + url, uri + "file://" + str(local)).replace(url, str(local)) == on_disk.stdout
    assert in_bucket.stderr.replace(url, str(local)) == on_disk.stderr
    if format == "json":
        runs = json.loads(in_bucket.stdout)["runs"]
        assert len(runs) == 22 and runs[0]["path"].startswith(url + "/")
        assert runs[0]["name"] == json.loads(on_disk.stdout)["runs"][0]["name"]  # relative to the argument


@pytest.mark.parametrize("run", ["graph_free_gru_constant_lr", "sb3_recurrentppo_cartpole"])
def test_a_single_run_and_a_progress_csv_read_from_the_bucket_as_from_disk(s3, tmp_path, run):
    local, url = side_by_side(s3, tmp_path, SAMPLES / run, f"sample_logs/{run}")
    on_disk, in_bucket = analyzed(str(local), format="text"), analyzed(url, format="text")
    assert in_bucket.stdout.replace(url, str(local)) == on_disk.stdout


def test_the_second_analysis_comes_from_the_cache_keyed_on_the_objects_identity(s3, monkeypatch):
    url = f"s3://{BUCKET}/sample_logs/graph_free_gru_constant_lr"
    first = ingest.load(url)
    assert first.keys[0] is not None
    monkeypatch.setattr(ingest, "_read_event_files", lambda *a: pytest.fail("read again"))
    second = ingest.load(url)
    assert [r.metrics.points("kl")[1].tolist() for r in second.runs] == [
        r.metrics.points("kl")[1].tolist() for r in first.runs]
    assert second.runs[0].architecture == first.runs[0].architecture  # its config was fetched again
    # The same bytes under the same key but a new version are a new entry: never the old numbers.
    monkeypatch.undo()
    s3.pipe(f"{BUCKET}/sample_logs/graph_free_gru_constant_lr/config.json",
            s3.cat(f"{BUCKET}/sample_logs/graph_free_gru_constant_lr/config.json"))
    assert ingest.load(url).keys == first.keys  # a config is metadata, read afresh, not in the key


def _copy_of(s3, name: str) -> str:
    """A fresh copy of real_sweeps in the bucket, for a test that breaks it."""
    s3.copy(f"{BUCKET}/real_sweeps/", f"{BUCKET}/{name}/", recursive=True)
    return f"{BUCKET}/{name}"


def test_a_missing_object_is_reported_for_its_run_alone(s3, monkeypatch):
    prefix = _copy_of(s3, "missing")
    runs, _ = remote.discover(f"s3://{prefix}")
    gone = runs[3].event_files[0]
    s3.rm(f"{prefix}/{gone.key}")  # deleted between the listing and the read
    monkeypatch.setattr(remote, "discover", lambda url: (runs, []))
    ingested = ingest.load(f"s3://{prefix}", use_cache=False)
    assert len(ingested.runs) == 21
    [problem] = ingested.problems
    assert problem.path == f"s3://{prefix}/{runs[3].directory}"
    assert "cannot read" in problem.message and gone.key.rpartition("/")[2] in problem.message
    assert "/tmp" not in problem.message and "staging" not in problem.message


def test_an_object_replaced_after_the_listing_is_read_as_it_is_now_and_not_cached(s3, monkeypatch):
    prefix = _copy_of(s3, "replaced")
    runs, _ = remote.discover(f"s3://{prefix}")
    other = s3.cat(f"{prefix}/{runs[0].event_files[0].key}")
    s3.pipe(f"{prefix}/{runs[1].event_files[0].key}", other)  # replaced under the listing
    monkeypatch.setattr(remote, "discover", lambda url: (runs, []))
    ingested = ingest.load(f"s3://{prefix}")
    run = ingested.runs[1]
    assert any(remote.CHANGED in note.message for note in run.notes)
    assert run.metrics.points("kl")[1].tolist() == ingested.runs[0].metrics.points("kl")[1].tolist()
    from lrdoctor.read.cache import cached_run

    assert cached_run(ingested.keys[1]) is None  # not stored under the identity the listing gave
    assert cached_run(ingested.keys[0]) is not None


def test_a_truncated_object_reads_as_the_same_truncated_file_on_disk(s3, tmp_path):
    local = Path(shutil.copytree(SAMPLES / "graph_free_gru_constant_lr", tmp_path / "graph_free_gru_constant_lr"))
    events = next(local.glob("events.out.tfevents.*"))
    events.write_bytes(events.read_bytes()[:-37])  # cut inside the last record
    s3.put(str(local) + "/", f"{BUCKET}/truncated/graph_free_gru_constant_lr/", recursive=True)
    url = f"s3://{BUCKET}/truncated/graph_free_gru_constant_lr"
    bucket, disk = analyzed(url), analyzed(str(local))
    assert json.loads(bucket.stdout)["runs"][0]["findings"] == json.loads(disk.stdout)["runs"][0]["findings"]
    assert bucket.stderr.replace(url, "<run>") == disk.stderr.replace(str(local), "<run>")
    assert "incomplete" in bucket.stderr


def test_hostile_keys_are_never_staged_outside_and_never_start_a_line(s3, tmp_path):
    events = next((SAMPLES / "graph_free_gru_constant_lr").glob("events.out.tfevents.*")).read_bytes()
    s3.pipe(f"{BUCKET}/hostile/run\r::error::fake\x1b[31m/events.out.tfevents.1.x", events)
    s3.pipe(f"{BUCKET}/hostile/../../escape/events.out.tfevents.1.x", events)
    s3.pipe(f"{BUCKET}/hostile/a//events.out.tfevents.1.x", events)
    result = runner.invoke(app, ["analyze", f"s3://{BUCKET}/hostile", "--jobs", "1"])
    assert result.exit_code in (0, 1), result.output
    assert not any(line.startswith("::error::") for line in result.output.splitlines())
    assert "run\\r::error::fake\\x1b[31m" in result.output  # escaped, as a local name is
    assert "\x1b" not in result.output
    assert result.output.count("object key is not a plain path: skipped") == 2  # "..", and an empty component
    assert "hostile/run\\r" in result.output  # the plain one is read


def test_a_missing_prefix_is_one_line_and_exit_2(s3):
    result = runner.invoke(app, ["analyze", f"s3://{BUCKET}/no-such-sweep"])
    assert result.exit_code == 2
    assert "no such file or directory: s3://lab-sweeps/no-such-sweep" in result.stderr
    assert "testing-secret-never-shown" not in result.output


def test_watch_says_it_follows_local_paths_only():
    result = runner.invoke(app, ["watch", f"s3://{BUCKET}/real_sweeps", "--every", "1s"])
    assert result.exit_code == 2 and "watch follows local paths only" in result.stderr


def test_add_hparams_subdirectories_fold_into_their_run_as_on_disk(s3, tmp_path):
    from writers import synthetic_collapse, write_run

    steps, metrics = synthetic_collapse(20)  # SYNTHETIC
    sweep = tmp_path / "hparams_sweep"
    write_run(sweep / "run_a", "cleanrl", steps, {"kl": metrics["kl"]})
    write_run(sweep / "run_a" / "1700000000.5", "cleanrl", steps[:1], {"kl": metrics["kl"][:1]}, hparams={"lr": 1e-4})
    write_run(sweep / "run_a" / "1700000001.5", "cleanrl", steps, {"kl": metrics["kl"]})  # a real child run
    s3.put(str(sweep) + "/", f"{BUCKET}/hparams_sweep/", recursive=True)
    runs, _ = remote.discover(f"s3://{BUCKET}/hparams_sweep")
    local = ingest.discover(sweep).runs
    assert [run.name for run in runs] == [run.name for run in local] == ["run_a", "run_a/1700000001.5"]
    assert len(runs[0].event_files) == len(local[0].event_files) == 2
