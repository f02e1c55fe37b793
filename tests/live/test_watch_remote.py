"""`lrdoctor watch s3://...` against a real S3 API: moto's server on 127.0.0.1, s3fs as the client.

A sync tool (``aws s3 sync``, Tune's syncer) re-uploads a live run's event file whole as it
grows, so a followed object is replaced by a longer one between passes. The versions here are
the committed sample collapse cut at its own record boundaries (a prefix a writer really
left): the first third logs only the constant LR, the whole file the collapse. A pass is
counted, never timed; every process is bounded (``--passes``, timeouts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from lrdoctor.cli import app
from lrdoctor.errors import InputError
from lrdoctor.live import watch
from lrdoctor.read import remote
from lrdoctor.rules.options import load_options
from tests.read.test_remote import record_ends
from tests.s3_server import FetchCounter, moto_s3

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "sample_logs" / "graph_free_gru_constant_lr"
EVENTS = next(RUN.glob("events.out.tfevents.*"))
BLOB = EVENTS.read_bytes()
THIRD = record_ends(BLOB)[len(record_ends(BLOB)) // 3]
BUCKET = "live-runs"
runner = CliRunner()


@pytest.fixture(scope="module")
def s3():
    with moto_s3(BUCKET) as fs:
        yield fs


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def upload(s3, prefix: str, events: bytes, name: str = EVENTS.name) -> str:
    s3.pipe(f"{BUCKET}/{prefix}/config.json", (RUN / "config.json").read_bytes())
    s3.pipe(f"{BUCKET}/{prefix}/{name}", events)
    return f"s3://{BUCKET}/{prefix}"


def settings() -> watch.Settings:
    return watch.Settings(options=load_options(cwd=ROOT / "tests"))


def codes(sightings) -> set[str]:
    return {sighting.finding.code for sighting in sightings}


def test_a_replaced_longer_object_costs_its_new_bytes_and_its_new_findings_are_reported(s3, monkeypatch):
    url = upload(s3, "sweep/gru", BLOB[:THIRD])
    state, first = watch.poll(watch.WatchState(), [url], settings())
    assert codes(first) == {"LRD002"}  # the constant LR of a recurrent run: all a third shows
    [key] = state.runs
    assert key == url and state.changed == (key,)

    counter = FetchCounter(monkeypatch)
    state, quiet = watch.poll(state, [url], settings())
    assert quiet == [] and state.changed == () and counter.reads == []  # a listing, nothing fetched

    upload(s3, "sweep/gru", BLOB)  # the sync replaced it by the longer version
    state, second = watch.poll(state, [url], settings())
    assert {"LRD006", "LRD001"} <= codes(second)
    assert all(s.run_path == key and s.pass_number == 3 for s in second)
    # Only the new bytes (and the overlap that proves the old ones the same) were fetched.
    assert counter.bytes_of(EVENTS.name) == len(BLOB) - (THIRD - remote.OVERLAP)
    # ... and the run reads as a whole read of the object reads.
    analyzed = json.loads(runner.invoke(app, ["analyze", url, "--format", "json", "--no-cache"]).stdout)
    assert {(f.code, f.severity.value) for f in state.runs[key].result.findings} == {
        (f["code"], f["severity"]) for f in analyzed["runs"][0]["findings"]}


def test_a_deleted_object_is_a_note_for_its_run_and_not_a_crash(s3, monkeypatch):
    upload(s3, "deleted/gru", BLOB[:THIRD])
    upload(s3, "deleted/other", BLOB[:THIRD])
    restart = "events.out.tfevents.1718000999.synthetic.0.1"
    s3.pipe(f"{BUCKET}/deleted/gru/{restart}", BLOB[:THIRD])
    url = f"s3://{BUCKET}/deleted"
    state, _ = watch.poll(watch.WatchState(), [url], settings())
    assert set(state.runs) == {f"{url}/gru", f"{url}/other"}

    s3.rm(f"{BUCKET}/deleted/gru/{restart}")  # one of a run's objects
    s3.rm(f"{BUCKET}/deleted/other/{EVENTS.name}")  # every log object of a run
    state, _ = watch.poll(state, [url], settings())
    notes = {(note.path, note.message) for note in state.fresh_notes}
    assert (f"{url}/gru/{restart}", "deleted since the last pass: the run is read without it") in notes
    assert (f"{url}/other", "no longer in the listing (its objects were deleted): it keeps its last state") in notes
    assert state.runs[f"{url}/other"].result is not None  # its last state, kept

    # Deleted between the listing and the read: "cannot read" for that run alone.
    upload(s3, "deleted/gru", BLOB)
    listed, _ = remote.discover(url)
    s3.rm(f"{BUCKET}/deleted/gru/{EVENTS.name}")
    monkeypatch.setattr(remote, "discover", lambda _: (listed, []))
    state, _ = watch.poll(state, [url], settings())
    [note] = state.fresh_notes
    assert note.path == f"{url}/gru" and note.message.startswith("unreadable run: cannot read")
    assert "staging" not in note.message and state.passes == 3


def test_a_store_that_cannot_be_listed_is_an_input_error_first_and_a_note_later(s3, monkeypatch):
    url = upload(s3, "unreachable/gru", BLOB[:THIRD])
    real = remote.discover

    def refused(_url):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(remote, "discover", refused)
    with pytest.raises(InputError, match="cannot list"):
        watch.poll(watch.WatchState(), [url], settings())
    monkeypatch.setattr(remote, "discover", real)
    state, _ = watch.poll(watch.WatchState(), [url], settings())
    monkeypatch.setattr(remote, "discover", refused)
    state, sightings = watch.poll(state, [url], settings())
    assert sightings == [] and [n.message for n in state.fresh_notes] == [
        "cannot list now (connection refused): its runs keep their last state"]
    assert url in state.runs


def test_the_command_follows_a_bucket_and_exits_1_at_the_collapse_the_longer_version_shows(s3, tmp_path):
    """The real command in its own process: its first pass sees a third of the run, the test
    then uploads the whole file, and a later pass reports the collapse and stops the watch."""
    url = upload(s3, "cli/gru", BLOB[:THIRD])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "lrdoctor", "watch", url, "--every", "0.2s", "--exit-on", "error", "-v",
         "--passes", "400"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = process.stderr.readline()  # -v: the run's line in the first pass
        assert first.startswith("pass 1: "), first
        upload(s3, "cli/gru", BLOB)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    lines = stdout.splitlines()
    assert any("LRD002" in line for line in lines) and any("LRD006" in line for line in lines)
    assert not any("LRD006" in line for line in first.splitlines())
