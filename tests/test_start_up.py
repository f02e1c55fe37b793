"""What every analyze pays for before reading: only what it needs. A sweep of plain event
files with no config beside it loads neither protobuf (the opening file_version record is
recognised without it), nor ruamel (no YAML file was read), nor the
progress bar's module (stderr is not a terminal), nor importlib.metadata (for lrdoctor's own
version, or crc32c's: ``read.crc``), nor numpy.ma (which np.median and np.unique import:
``rules.common.median``), nor pydantic (options are coerced without it: ``cli.values``), nor numpy.random.
A report in JSON, SARIF or Markdown with stderr not a terminal loads no rich at all.
Checked by module, never by the clock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loaded_modules import ROOT, modules_loaded_by
from tests.writers import write_tags

# (tomllib is not listed: the tests run in a checkout, whose pyproject.toml analyze reads for [tool.lrdoctor].)
# numpy.random, importlib.metadata, numpy.ma: each import cost every reader process more than decoding a small run
NOT_NEEDED = ("google.protobuf", "tensorboard.compat.proto", "ruamel.yaml", "rich.progress", "pydantic",
              "numpy.random", "importlib.metadata", "numpy.ma")


def test_an_analysis_of_plain_event_files_loads_only_what_it_reads(tmp_path):
    # every SB3 metric, so every rule judges (the returns' spread is a percentile), and a
    # restart whose steps go back (repeated steps are counted)
    steps = [*range(0, 2000, 100), *range(1000, 3000, 100)]
    rising = [0.001 * k for k in range(len(steps))]
    write_tags(tmp_path / "sweep" / "run1", steps, {
        "train/approx_kl": rising, "train/entropy_loss": [-1 + v for v in rising], "train/learning_rate": [3e-4] * len(steps),
        "train/clip_fraction": rising, "train/value_loss": rising, "rollout/ep_rew_mean": [10 - v for v in rising]})
    modules = modules_loaded_by("analyze", str(tmp_path / "sweep"), "--jobs", "1", "--no-cache",
                                "-o", str(tmp_path / "report"), env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.read.events" in modules  # proof the list is of a real read
    assert not [name for name in NOT_NEEDED if name in modules]


@pytest.mark.parametrize("format", ["json", "sarif", "markdown"])
def test_a_machine_readable_report_loads_no_rich_and_says_the_same_lines(tmp_path, format):
    """rich colours and draws on a terminal only; a pipe gets the same characters from plain lines."""
    run = tmp_path / "sweep" / "run1"
    write_tags(run, range(0, 2000, 100), {"train/approx_kl": [0.01] * 20})
    env = {"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    env_without_colour = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    report = tmp_path / f":smile: [bold]report.{format}"  # rich would make an emoji and markup of it
    args = ["analyze", str(tmp_path / "sweep"), "--jobs", "1", "--format", format, "-o", str(report)]
    for attempt in ("first", "cached"):
        modules = modules_loaded_by(*args, env=env)
        assert "lrdoctor.read.ingest" in modules  # proof the list is of a real analysis
        assert not [name for name in modules if name == "rich" or name.startswith("rich.")], attempt
    said = {}
    for lines, extra in (("plain", {}), ("rich", {"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})):
        done = subprocess.run([sys.executable, "-m", "lrdoctor", *args], capture_output=True, text=True,
                              env={**env_without_colour, "PYTHONPATH": str(ROOT), **env, **extra})
        said[lines] = done.stderr
    assert said["plain"] == said["rich"]
    assert said["plain"].splitlines()[0] == f"wrote {report}"


def test_a_yaml_config_beside_a_run_is_still_read(tmp_path):
    run = tmp_path / "sweep" / "run1"
    write_tags(run, range(0, 2000, 100), {"train/approx_kl": [0.01] * 20})
    (run / "config.yaml").write_text("policy: {arch: gru}\n")
    modules = modules_loaded_by("analyze", str(tmp_path / "sweep"), "--jobs", "1", "--no-cache", "--format", "json",
                                "-o", str(tmp_path / "report.json"), env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "ruamel.yaml" in modules
    assert '"recurrent": true' in (tmp_path / "report.json").read_text()


_THREADS_AFTER = """
import os, sys
from lrdoctor.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(len(os.listdir("/proc/self/task")), os.environ.get("OPENBLAS_NUM_THREADS", "unset"), file=sys.stderr)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are listed in /proc on Linux only")
@pytest.mark.parametrize("users", [None, "2"])
def test_a_command_starts_no_blas_threads_and_leaves_the_environment_as_the_user_set_it(tmp_path, users):
    write_tags(tmp_path / "run1", range(0, 2000, 100), {"train/approx_kl": [0.01] * 20})
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
    env.update({"PYTHONPATH": str(ROOT), "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    if users is not None:
        env["OPENBLAS_NUM_THREADS"] = users
    command = ["analyze", str(tmp_path / "run1"), "--jobs", "1", "-o", str(tmp_path / "report")]
    done = subprocess.run([sys.executable, "-c", _THREADS_AFTER, *command], capture_output=True, text=True, env=env)
    threads, setting = done.stderr.strip().splitlines()[-1].split()
    assert setting == (users or "unset")  # what a command that watch --exec starts inherits
    if users is None:
        assert threads == "1"  # numpy's OpenBLAS started no pool of spinning threads
