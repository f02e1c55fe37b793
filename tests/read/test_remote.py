"""Sweeps in object storage, through a real S3 API: moto's server on 127.0.0.1, s3fs as the
client, the committed sample_logs and real_sweeps uploaded unchanged. A report read from the
bucket equals the report read from the same files on disk, paths aside; faults (a missing
object, a listing that changes under the read, a truncated object, hostile keys) are each
reported for their run alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from lrdoctor.cli import app
from lrdoctor.read import ingest, remote
from tests.s3_server import SECRET, FetchCounter, moto_s3

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "sample_logs"
SWEEP = TESTS / "real_sweeps"  # real SB3 PPO runs, each with its config.yaml
BUCKET = "lab-sweeps"
runner = CliRunner()


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server with the committed sweeps uploaded unchanged; stopped after the module."""
    with moto_s3(BUCKET) as fs:
        fs.put(str(SWEEP) + "/", f"{BUCKET}/real_sweeps/", recursive=True)
        fs.put(str(SAMPLES) + "/", f"{BUCKET}/sample_logs/", recursive=True)
        yield fs


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
    assert SECRET not in result.output


def test_no_request_to_a_store_can_wait_forever():
    """Every backend is given its own connect and read timeouts (a watch polls for hours)."""
    fs, _ = remote._filesystem(f"s3://{BUCKET}/x")
    assert fs.config_kwargs["connect_timeout"] == remote.CONNECT_TIMEOUT
    assert fs.config_kwargs["read_timeout"] == remote.READ_TIMEOUT


@pytest.mark.parametrize(("url", "backend", "env"), [
    ("gs://bucket/x", "gcsfs", {}),
    ("az://container/x", "adlfs", {"AZURE_STORAGE_ACCOUNT_NAME": "devstoreaccount1", "AZURE_STORAGE_ANON": "true"}),
])
def test_gcs_and_azure_clients_get_their_timeouts_too(url, backend, env, monkeypatch):
    pytest.importorskip(backend)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fs, _ = remote._filesystem(url)
    if backend == "gcsfs":
        assert fs.requests_timeout == 2 * remote.READ_TIMEOUT
    else:
        assert fs._timeout_kwargs == {"connection_timeout": remote.CONNECT_TIMEOUT, "read_timeout": remote.READ_TIMEOUT}


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


# --- a grown object: only its new bytes ---------------------------------------------------
# A sync tool re-uploads a live run's event file whole as it grows: a new object (a new ETag)
# whose first bytes are the old one's. The sample run's file is cut at its own record
# boundaries to make the versions, so every version is a prefix a writer really left.

GROWN = SAMPLES / "graph_free_gru_constant_lr"
GROWN_EVENTS = next(GROWN.glob("events.out.tfevents.*"))


def record_ends(blob: bytes) -> list[int]:
    """Where each record of an event file ends (uint64 length, its CRC, payload, its CRC)."""
    ends, at = [], 0
    while at + 12 <= len(blob):
        at += 16 + int.from_bytes(blob[at:at + 8], "little")
        ends.append(at)
    return ends


def upload(s3, prefix: str, events: bytes, name: str = GROWN_EVENTS.name) -> str:
    s3.pipe(f"{BUCKET}/{prefix}/config.json", (GROWN / "config.json").read_bytes())
    s3.pipe(f"{BUCKET}/{prefix}/{name}", events)
    return f"s3://{BUCKET}/{prefix}"


def from_scratch(url: str):
    """The report of a read that uses no cache at all: what every other read must equal."""
    return analyzed(url, "--no-cache")


@pytest.mark.parametrize("cut_inside_a_record", [False, True])
def test_a_grown_object_is_fetched_only_from_where_it_was_read_and_reports_as_read_whole(
        s3, monkeypatch, cut_inside_a_record):
    blob = GROWN_EVENTS.read_bytes()
    ends = record_ends(blob)
    assert ends[-1] == len(blob)
    read_to = ends[len(ends) // 3]
    cut = read_to + (25 if cut_inside_a_record else 0)  # inside: a record a writer had not finished
    url = upload(s3, f"grown-{cut_inside_a_record}/run", blob[:cut])
    first = analyzed(url)
    if cut_inside_a_record:
        assert "incomplete last record" in first.stderr
    upload(s3, f"grown-{cut_inside_a_record}/run", blob)  # replaced by the longer version
    counter = FetchCounter(monkeypatch)
    grown = analyzed(url)
    # From the old end on, and the overlap before it whose CRC proves the prefix the same.
    assert counter.bytes_of(GROWN_EVENTS.name) == len(blob) - (read_to - remote.OVERLAP)
    scratch = from_scratch(url)
    assert grown.stdout == scratch.stdout
    assert grown.stderr == scratch.stderr
    assert "incomplete last record" not in grown.stderr
    assert "LRD006" in {f["code"] for f in json.loads(grown.stdout)["runs"][0]["findings"]}
    assert "LRD006" not in {f["code"] for f in json.loads(first.stdout)["runs"][0]["findings"]}


def test_an_object_that_did_not_change_is_not_fetched_when_another_of_its_run_grew(s3, monkeypatch):
    blob = GROWN_EVENTS.read_bytes()
    ends = record_ends(blob)
    restart = "events.out.tfevents.1718000999.synthetic.0.1"  # a later file of the same run
    url = upload(s3, "two-files/run", blob[:ends[len(ends) // 2]])
    s3.pipe(f"{BUCKET}/two-files/run/{restart}", blob[:ends[10]])
    analyzed(url)
    s3.pipe(f"{BUCKET}/two-files/run/{restart}", blob[:ends[40]])
    counter = FetchCounter(monkeypatch)
    grown = analyzed(url)
    assert counter.bytes_of(GROWN_EVENTS.name) == 0
    assert ends[10] < remote.OVERLAP  # so its overlap is all it held: fetched whole again
    assert counter.bytes_of(restart) == ends[40]
    assert grown.stdout == from_scratch(url).stdout


@pytest.mark.parametrize("how", ["shrunk", "rewritten at the same size", "replaced by a longer other file"])
def test_an_object_that_did_not_only_grow_is_read_in_full(s3, monkeypatch, how):
    blob = GROWN_EVENTS.read_bytes()
    ends = record_ends(blob)
    read_to = ends[len(ends) // 2]
    prefix = f"not-grown-{how.replace(' ', '-')}/run"
    url = upload(s3, prefix, blob[:read_to])
    analyzed(url)
    if how == "shrunk":
        new = blob[:ends[len(ends) // 4]]
    elif how == "rewritten at the same size":  # one value changed inside the overlap, its record's CRC fixed
        new = rewritten_record(blob[:read_to], ends, len(ends) // 2 - 1)
    else:
        other = next((SAMPLES / "graph_free_gru_recommended").glob("events.out.tfevents.*")).read_bytes()
        assert len(other) > read_to
        new = other
    upload(s3, prefix, new)
    counter = FetchCounter(monkeypatch)
    again = analyzed(url)
    fetched = counter.bytes_of(GROWN_EVENTS.name)
    if how == "replaced by a longer other file":  # the tail, refused by its overlap's CRC, then all
        assert fetched == len(new) - (read_to - remote.OVERLAP) + len(new)
    else:
        assert fetched == len(new)
    scratch = from_scratch(url)
    assert again.stdout == scratch.stdout and again.stderr == scratch.stderr


def rewritten_record(blob: bytes, ends: list[int], index: int) -> bytes:
    """``blob`` with record ``index``'s last payload byte changed and its CRC made right again:
    a valid file of the same size, different where the overlap is checked."""
    from lrdoctor.read.events import masked_crc

    start, end = ends[index - 1], ends[index]
    payload = bytearray(blob[start + 12:end - 4])
    payload[-1] ^= 0x01
    record = blob[start:start + 12] + bytes(payload) + masked_crc(bytes(payload)).to_bytes(4, "little")
    return blob[:start] + record + blob[end:]
