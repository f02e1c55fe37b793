"""What bad input gets from ``lrdoctor watch``, through the real CLI (docs/bad-input.md).

A missing path or a bad ``--every`` is a usage error; damaged, empty and missing runs
and an ``--exec`` that cannot start are reported and the watch goes on. Damaged runs
are copies of tests/event_corpus/.
"""

from __future__ import annotations

import pytest
from bad_input import (
    HOSTILE_TEXT,
    assert_shown_safely,
    corpus_run,
    error_line,
    hostile_run,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
)

from lrdoctor.words import display


def test_watch_missing_path(tmp_path):
    result = lrdoctor("watch", tmp_path / "nope", "--once")
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: no such file or directory: {tmp_path / 'nope'}"


@pytest.mark.parametrize(
    "every, message",
    [
        ("abc", "--every abc: expected a duration such as 60s, 2m, 0.5s or 500ms"),
        ("0s", "--every 0s: the interval must be more than zero"),
    ],
)
def test_watch_bad_interval(tmp_path, every, message):
    result = lrdoctor("watch", tmp_path, "--every", every, "--once")
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {message}"


def test_watch_a_directory_with_no_run_yet(tmp_path):
    result = lrdoctor("watch", tmp_path, "--once")
    assert result.exit_code == 0
    assert "watched 0 runs for 1 pass" in result.stderr


def test_watch_damaged_and_missing_runs_never_end_the_watch(tmp_path):
    for case in ("truncated_tail", "random_bytes", "empty"):
        corpus_run(case, tmp_path / case)
    (tmp_path / "later").mkdir()  # a run that has not started writing yet
    result = lrdoctor("watch", tmp_path, "--passes", "2", "--every", "10ms")
    assert result.exit_code in (0, 1)
    assert "watched 3 runs for 2 passes" in result.stderr


def test_watch_exec_that_cannot_start_is_reported_and_the_watch_goes_on(tmp_path):
    corpus_run("truncated_tail", tmp_path / "run")
    result = lrdoctor("watch", tmp_path, "--once", "--exec", "lrdoctor-no-such-command {run}")
    assert result.exit_code in (0, 1)
    assert "lrdoctor: --exec lrdoctor-no-such-command: No such file or directory" in result.stderr.splitlines()
    assert "watched 1 run for 1 pass" in result.stderr


def test_watch_lines_show_hostile_text_escaped(tmp_path):
    """A run directory, a tag and the config's architecture name all hold HOSTILE_TEXT."""
    hostile_run(tmp_path)
    result = lrdoctor("watch", tmp_path, "--once", "-v")
    assert result.exit_code == 0
    assert_shown_safely(result.stdout)
    assert_shown_safely(result.stderr)
    lines = result.stdout.splitlines()
    assert lines and all(f"run{display(HOSTILE_TEXT)}: LRD" in line for line in lines)  # a finding a line
