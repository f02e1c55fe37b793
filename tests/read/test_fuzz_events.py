"""Fuzzing damaged event files through ingestion, the cache and the CLI.

One real event file (tensorboardX, SB3's tag names, SYNTHETIC values that are all
different) is damaged by hypothesis: truncated, bits flipped, garbage inserted,
slices deleted, record length fields rewritten (with and without a matching CRC).
Whatever the damage:

- nothing escapes: ingestion returns runs or problems, the CLI exits 0, 1 or 2 with
  valid JSON/SARIF on stdout and only ``lrdoctor:`` lines on stderr;
- every number that comes back is one that was written, at the step it was written
  (never a wrong number); notes name the file and an offset inside it;
- a cached read of a file that grew or shrank equals a fresh read of it.

The example budget is fixed and derandomised, so CI time is stable (a few seconds).
(tests/test_events.py fuzzes the reader itself; this file fuzzes what is built on it.)
"""

from __future__ import annotations

import functools
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from writers import write_tags

from lrdoctor.cli import app
from lrdoctor.read import ingest
from lrdoctor.read.cache import read_events
from lrdoctor.read.events import masked_crc, read_event_file

STEPS = [0, 2048, 4096, 6144, 8192, 10240, 12288, 14336]
TAGS = ("train/approx_kl", "train/learning_rate", "train/entropy_loss", "rollout/ep_rew_mean")
FILE_NAME = "events.out.tfevents.1718000000.fuzz"

FUZZ = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def synthetic_values(tag_index: int, step_index: int) -> float:
    """SYNTHETIC: distinct per tag and step, so a value read at the wrong step is caught."""
    return (tag_index + 1) * 0.001 + step_index * 0.0001 + (-1.0 if TAGS[tag_index] == "train/entropy_loss" else 0.0)


@functools.lru_cache(maxsize=None)
def base_file() -> tuple[bytes, dict[str, dict[int, float]], tuple[int, ...]]:
    """The undamaged file's bytes, what it holds (tag -> step -> value as read back
    from float32) and the start offset of each record."""
    with tempfile.TemporaryDirectory() as directory:
        tags = {tag: [synthetic_values(t, s) for s in range(len(STEPS))] for t, tag in enumerate(TAGS)}
        path = write_tags(Path(directory), STEPS, tags, hyperparameters={"policy": "MlpLstmPolicy", "lr": 3e-4})
        data = path.read_bytes()
    written = {tag: {step: float(np.float32(v)) for step, v in zip(STEPS, values)} for tag, values in tags.items()}
    starts, offset = [], 0
    while offset < len(data):
        starts.append(offset)
        offset += struct.unpack_from("<Q", data, offset)[0] + 16
    return data, written, tuple(starts)


# --- damage -----------------------------------------------------------------------------


@st.composite
def damage(draw) -> bytes:
    """The base file with one to three kinds of damage applied in turn."""
    data, _, starts = base_file()
    out = bytearray(data)

    def position() -> int:
        # a record, then a byte in or near it: spreads damage over the whole file
        # (plain integers, and sampled_from's first elements, are favoured: both ends are offered)
        record = draw(st.sampled_from(starts) | st.sampled_from(starts[::-1]))
        return min(len(out) - 1, record + draw(st.integers(0, 80)))

    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "length", "length_with_crc"]))
        if not out and kind != "insert":
            continue
        if kind == "truncate":
            del out[position() :]
        elif kind == "flip":
            for _ in range(draw(st.integers(1, 4))):
                out[position()] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            offset = position() if out else 0
            out[offset:offset] = draw(st.binary(min_size=1, max_size=40))
        elif kind == "delete":
            start = position()
            del out[start : start + draw(st.integers(1, 64))]
        else:
            start = draw(st.sampled_from([s for s in starts if s + 12 <= len(out)] or [None]))
            if start is None:
                continue
            length = draw(st.integers(0, 2**64 - 1) | st.integers(0, 2 * len(out)))
            header = struct.pack("<Q", length)
            crc = masked_crc(header) if kind == "length_with_crc" else struct.unpack_from("<I", out, start + 8)[0]
            out[start : start + 12] = header + struct.pack("<I", crc)
    return bytes(out)


def run_dir(parent: Path, content: bytes) -> Path:
    """A fresh run directory per example: the cache keys entries by path."""
    directory = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
    (directory / FILE_NAME).write_bytes(content)
    return directory


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


# --- invariants -------------------------------------------------------------------------


def assert_only_written_numbers(run) -> None:
    _, written, _ = base_file()
    for metric, series in run.metrics.items():
        source = run.sources[metric]
        expected = written[source.tag]
        for step, value in zip(series.index.tolist(), series.to_numpy().tolist()):
            stored = -value if source.negated else value
            assert step in expected and stored == expected[step], (metric, step, value)


@settings(max_examples=150, **FUZZ)
@given(content=damage())
def test_ingestion_never_raises_and_returns_only_written_numbers(tmp_path, content):
    directory = run_dir(tmp_path, content)
    ingested = ingest.load(directory, use_cache=False)
    assert len(ingested.runs) + len(ingested.problems) >= 1
    for run in ingested.runs:
        assert_only_written_numbers(run)
        for note in run.notes:
            assert note.offset is None or 0 <= note.offset <= len(content)


@settings(max_examples=60, **FUZZ)
@given(content=damage(), cut=st.floats(0, 1), grow=st.booleans())
def test_cached_read_after_growth_or_shrinking_equals_a_fresh_read(tmp_path, content, cut, grow):
    """A live run appends; a copy may be replaced by a shorter one. The cache must notice both."""
    directory = run_dir(tmp_path, b"")
    path = directory / FILE_NAME
    prefix = content[: int(len(content) * cut)]
    first, second = (prefix, content) if grow else (content, prefix)
    path.write_bytes(first)
    read_events(path)
    if grow:
        with open(path, "ab") as handle:
            handle.write(second[len(first) :])
    else:
        path.write_bytes(second)
    cached, fresh = read_events(path), read_event_file(path)
    assert cached.scalars.keys() == fresh.scalars.keys()
    for tag, (steps, values) in fresh.scalars.items():
        np.testing.assert_array_equal(cached.scalars[tag][0], steps)
        np.testing.assert_array_equal(cached.scalars[tag][1], values)
    assert cached.end_offset == fresh.end_offset


runner = CliRunner()


def strict_json(text: str):
    """JSON as the standard defines it: NaN and Infinity (which json.loads accepts) fail."""

    def refuse(constant: str):
        raise ValueError(f"not standard JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@settings(max_examples=40, **FUZZ)
@given(content=damage(), report_format=st.sampled_from(["json", "sarif"]))
def test_cli_exit_code_and_machine_output_stay_valid(tmp_path, content, report_format):
    directory = run_dir(tmp_path, content)
    result = runner.invoke(app, ["analyze", str(directory), "--format", report_format, "--jobs", "1"])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    if result.exit_code == 2:
        assert lines[-1].startswith("lrdoctor: error: ")
        return
    report = strict_json(result.stdout)
    if report_format == "sarif":
        assert report["version"] == "2.1.0" and len(report["runs"]) == 1
    else:
        (run,) = report["runs"]
        assert all(metric["points"] <= len(STEPS) for metric in run["metrics"].values())


def test_the_base_file_reads_whole(tmp_path):
    """The fuzzed invariants mean something only if the undamaged file reads back exactly."""
    data, written, starts = base_file()
    (run,) = ingest.load(run_dir(tmp_path, data), use_cache=False).runs
    assert_only_written_numbers(run)
    assert {m: len(s) for m, s in run.metrics.items()} == {
        "kl": len(STEPS), "lr": len(STEPS), "entropy": len(STEPS), "episode_return": len(STEPS)
    }
    assert len(starts) == 2 + len(TAGS) * len(STEPS)  # file_version + the text summary + scalars
