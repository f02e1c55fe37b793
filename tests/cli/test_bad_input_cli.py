"""What bad usage and unexpected failures get from any command, through the real CLI (docs/bad-input.md).

A bad choice or value, an unknown rule, an internal error, an interrupt or an OS error
is one ``lrdoctor: error:`` line and exit 2, with no traceback unless --debug; so is a
stdout that closes before the report is written (``lrdoctor … | head``, in a
subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input import (
    analyze,
    error_line,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
    runner,
)

from lrdoctor.cli import app

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "sample_logs"


# --- usage errors -----------------------------------------------------------------------


def test_unknown_choice_is_a_usage_error():
    result = analyze(SAMPLES, "--format", "yaml")
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--base-lr", "-1"], "invalid schedule: base LR must be a positive number, got -1.0"),
        (["--base-lr", "nan"], "invalid schedule: base LR must be a positive number, got nan"),
        (["--total-steps", "abc"], "not a step count: 'abc' (expected e.g. 20M, 500K, 2e7)"),
        (["--total-steps", "0"], "not a positive whole number of steps: '0'"),
        (["--total-steps", "1e400"], "not a positive whole number of steps: '1e400'"),
        (["--total-steps", "1e300", "--format", "csv", "--points", "3"], "too many steps: '1e300' (at most 9,223,372"),
        (["--base-lr", "1e308", "--out", "schedule.png"], "--base-lr must be at most 1000, got 1e+308"),
        (["--ramp-end", "2"], "invalid schedule: fractions must satisfy 0 < slow_end < ramp_end <= hold_until < 1"),
        (["--points", "-5", "--format", "csv"], "--points must be between 0 and 100,000"),
        (["--points", "100000000", "--format", "csv"], "--points must be between 0 and 100,000"),
        (["--points", "1" + "0" * 30, "--format", "csv"], "--points must be between 0 and 100,000"),
        (["--out", "schedule.gif"], "--out must end in one of .png, .svg, .pdf: schedule.gif"),
    ],
)
def test_plot_schedule_bad_values(args, message):
    result = lrdoctor("plot-schedule", *args)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"lrdoctor: error: {message}")


@pytest.mark.parametrize("jobs, exit_code", [("0", 2), ("1" + "0" * 20, 1)])
def test_jobs_out_of_range_or_huge(jobs, exit_code):
    """--jobs 0 is typer's usage error; a huge --jobs starts no more processes than there are runs."""
    result = lrdoctor("analyze", SAMPLES, "--jobs", jobs)
    assert result.exit_code == exit_code, result.stderr
    assert "Traceback" not in result.stderr


def test_plot_schedule_run_without_logs(tmp_path):
    result = lrdoctor("plot-schedule", "--run", tmp_path, "--out", tmp_path / "s.png")
    assert result.exit_code == 2
    assert "no readable run under" in error_line(result)
    assert not (tmp_path / "s.png").exists()


def test_unknown_rule():
    result = lrdoctor("rules", "LRD999")
    assert result.exit_code == 2
    assert error_line(result) == "lrdoctor: error: unknown rule: LRD999 (see `lrdoctor rules`)"


# --- any command: unexpected errors -----------------------------------------------------


def test_an_unexpected_error_is_one_line_and_exit_2(monkeypatch):
    from lrdoctor.rules import engine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug\nsecond line")

    monkeypatch.setattr(engine, "judged", broken)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr")
    assert result.exit_code == 2
    assert error_line(result) == (
        "lrdoctor: error: internal error: RuntimeError: simulated bug second line "
        "(rerun with --debug for the traceback)"
    )


def test_debug_shows_the_traceback(monkeypatch):
    from lrdoctor.rules import engine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(engine, "judged", broken)
    result = runner.invoke(app, ["--debug", "analyze", str(SAMPLES / "graph_free_gru_constant_lr"), "--jobs", "1"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "RuntimeError: simulated bug" in result.stderr


def test_an_interrupt_is_exit_130_not_findings(monkeypatch):
    """Ctrl-C: the shell's 128 + SIGINT and one line (issue 18 asks for the convention; it was 2)."""
    from lrdoctor.rules import engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "judged", interrupted)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr")
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["lrdoctor: interrupted"]


def test_an_os_error_names_its_path(monkeypatch, tmp_path):
    from lrdoctor.rules import engine

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(engine, "judged", unreadable)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr")
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {tmp_path / 'x'}: Permission denied"


def test_analyze_started_without_stdout_writes_its_file_or_says_it_has_nowhere_to_write(tmp_path):
    """``lrdoctor analyze … >&-``: fd 1 is not open at all (Python's sys.stdout is None). A
    report for -o is written and the verdict stands; a report for stdout is one line, exit 2."""
    env = {**os.environ, "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}

    def without_stdout(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lrdoctor", "analyze", str(SAMPLES), "--jobs", "1", *args],
                              stdout=None, stderr=subprocess.PIPE, text=True, env=env,
                              preexec_fn=lambda: os.close(1), check=False)

    to_file = without_stdout("--format", "json", "-o", str(tmp_path / "report.json"))
    assert to_file.returncode == 1 and "Traceback" not in to_file.stderr, to_file.stderr
    assert json.loads((tmp_path / "report.json").read_text())["runs"]
    to_stdout = without_stdout()
    assert to_stdout.returncode == 2
    assert to_stdout.stderr == "lrdoctor: error: stdout is closed: nowhere to write the report (give -o FILE)\n"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["analyze", str(SAMPLES), "--jobs", "1"], 1),
        (["analyze", str(SAMPLES), "--format", "json", "--jobs", "1", "--fail-on", "never"], 0),
        (["check", str(TESTS / "check_corpus"), "--format", "sarif"], 1),
        (["rules"], 0),
    ],
    ids=["analyze-text", "analyze-json", "check-sarif", "rules"],
)
def test_stdout_closed_early_is_silent_and_keeps_the_verdict(tmp_path, args, code):
    """``lrdoctor … | head``: the reader is gone before the report is written. It asked for no
    more, so nothing is said about it; but a gate's exit code is the findings', or ``check | head``
    in CI would pass a failing config."""
    env = {**os.environ, "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}
    child = subprocess.Popen(
        [sys.executable, "-m", "lrdoctor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    child.stdout.close()  # long before the child has imported enough to write anything
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == code
    assert "broken pipe" not in stderr.lower() and "lrdoctor: error" not in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
