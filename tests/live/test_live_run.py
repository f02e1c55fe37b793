"""A live run: a writer process appends events while lrdoctor reads the same directory.

The writer is tensorboardX's SummaryWriter in another process, flushing after every
step, as a training job does. Meanwhile the run is read again and again, through
ingestion (with and without the cache, which then reads only the appended bytes)
and through ``lrdoctor analyze``. Every read must be a consistent prefix of what is
being written: the first k steps with exactly the values written, never a number
from a half-written record. Values are SYNTHETIC. Bounded: the writer has a fixed
number of steps and is killed if it outlives a generous timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app
from lrdoctor.read import ingest

STEPS = 300
STEP_SIZE = 2048

WRITER = textwrap.dedent(
    """
    import sys, time
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(sys.argv[1], flush_secs=3600)
    for i in range(int(sys.argv[2])):
        step = {step_size} * i
        writer.add_scalar("train/approx_kl", 0.001 + 0.0001 * i, step)
        writer.add_scalar("train/learning_rate", 3e-4, step)
        writer.add_scalar("train/entropy_loss", -(1.0 + i / 1000), step)
        writer.flush()
        time.sleep(0.004)
    writer.close()
    """
).format(step_size=STEP_SIZE)


def expected_kl(count: int) -> np.ndarray:
    """What the writer wrote for the first ``count`` steps, as float32 -> float64 (as stored)."""
    return (0.001 + 0.0001 * np.arange(count)).astype(np.float32).astype(np.float64)


def assert_consistent_prefix(run) -> int:
    """The run holds the first k steps exactly; returns k."""
    kl = run.metrics.get("kl")
    count = 0 if kl is None else len(kl)
    if count:
        np.testing.assert_array_equal(kl.index.to_numpy(), STEP_SIZE * np.arange(count))
        np.testing.assert_array_equal(kl.to_numpy(), expected_kl(count))
    # kl, lr, entropy are written in that order each step, so the others trail by at most one
    lr, entropy = (len(run.metrics.get(m, ())) for m in ("lr", "entropy"))
    assert count >= lr >= entropy >= count - 1, (count, lr, entropy)
    return count


@pytest.fixture
def live_writer(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    logdir = tmp_path / "RecurrentPPO_1"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(logdir), str(STEPS)])
    try:
        yield logdir, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_every_read_of_a_live_run_is_a_consistent_prefix(live_writer):
    logdir, process = live_writer
    runner = CliRunner()
    deadline = time.monotonic() + 120  # a bound on a hung writer, not a timing assertion
    counts: list[int] = []
    reads_while_writing = 0
    while True:
        finished = process.poll() is not None
        if time.monotonic() > deadline:
            pytest.fail("the writer did not finish")
        if not any(logdir.glob("events.out.tfevents.*")):
            time.sleep(0.01)
            continue
        use_cache = len(counts) % 2 == 0
        (run,) = ingest.load(logdir, use_cache=use_cache).runs
        counts.append(assert_consistent_prefix(run))
        if len(counts) % 5 == 0 or finished:
            result = runner.invoke(app, ["analyze", str(logdir), "--format", "json", "--jobs", "1"])
            assert result.exit_code in (0, 1), result.output
            (reported,) = json.loads(result.stdout)["runs"]
            assert reported["metrics"].get("kl", {"points": 0})["points"] >= counts[-1]
        if finished:
            break
        reads_while_writing += 1
    assert process.returncode == 0
    assert counts == sorted(counts), "a later read saw fewer steps than an earlier one"
    assert counts[-1] == STEPS and not run.notes
    assert reads_while_writing > 0
