"""What bad input gets from ``lrdoctor watch``, through the real CLI (docs/bad-input.md).

A missing path or a bad ``--every`` is a usage error; damaged, empty and missing runs
and an ``--exec`` that cannot start are reported and the watch goes on; a run's name
reaches an ``--exec`` command as a value only, never as code or as an option. Damaged
runs are copies of tests/event_corpus/.
"""

from __future__ import annotations

import json
import shlex
import sys

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
    "option, value, message",
    [
        ("--every", "abc", "--every abc: expected a duration such as 60s, 2m, 0.5s or 500ms"),
        ("--every", "0s", "--every 0s: the interval must be more than zero"),
        ("--every", "99999999999h", "--every 99999999999h: the interval must be at most 24h"),  # overflowed sleep()
        ("--exec-timeout", "0", "--exec-timeout 0: the interval must be more than zero"),  # was named --every
        ("--exec-timeout", "25h", "--exec-timeout 25h: the interval must be at most 24h"),
    ],
)
def test_watch_bad_interval(tmp_path, option, value, message):
    result = lrdoctor("watch", tmp_path, option, value, "--once")
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


# --- --exec: a run's name is a value, never code or an option ---------------------------------

WRITE_ARGS = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


def kl_over_run(directory):
    """SYNTHETIC: a run whose KL is over the threshold from the start (an LRD001 finding)."""
    from writers import write_tags

    write_tags(directory, range(0, 40 * 2048, 2048), {"train/approx_kl": [0.05] * 40})
    return directory


def test_exec_never_pastes_a_run_name_into_a_shell_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kl_over_run(tmp_path / "runs" / "$(touch pwned)")
    pasted = lrdoctor("watch", tmp_path / "runs", "--once", "--exec", 'sh -c "notify {run}"')
    assert pasted.exit_code == 2
    assert error_line(pasted).startswith("lrdoctor: error: --exec: {run} inside the argument 'notify {run}'")
    quoted = lrdoctor("watch", tmp_path / "runs", "--once", "--exec", 'sh -c "printf %s \\"$LRDOCTOR_RUN\\" > via-env"')
    assert quoted.exit_code == 0, quoted.stderr
    program = shlex.join([sys.executable, "-c", WRITE_ARGS, "via-argv"])
    argument = lrdoctor("watch", tmp_path / "runs", "--once", "--exec", f"{program} {{run}} {{path}}")
    assert argument.exit_code == 0, argument.stderr
    assert (tmp_path / "via-env").read_text() == "$(touch pwned)"
    assert json.loads((tmp_path / "via-argv").read_text()) == ["$(touch pwned)", str(tmp_path / "runs" / "$(touch pwned)")]
    assert not list(tmp_path.rglob("pwned"))


def test_exec_never_hands_a_run_name_over_as_an_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kl_over_run(tmp_path / "runs" / "--version")
    program = shlex.join([sys.executable, "-c", WRITE_ARGS, "args"])
    refused = lrdoctor("watch", tmp_path / "runs", "--once", "--exec", f"{program} {{run}}")
    assert refused.exit_code == 0
    assert f"lrdoctor: --exec {sys.executable}: not run for --version: {{run}} is '--version', which" in refused.stderr
    assert not (tmp_path / "args").exists()
    passed = lrdoctor("watch", tmp_path / "runs", "--once", "--exec", f"{program} -- {{run}}")
    assert passed.exit_code == 0, passed.stderr
    assert json.loads((tmp_path / "args").read_text()) == ["--", "--version"]


def test_a_cache_inside_the_watched_tree_is_not_used(tmp_path, monkeypatch):
    from writers import synthetic_collapse, write_run

    steps, metrics = synthetic_collapse(n=20)  # SYNTHETIC
    write_run(tmp_path / "logs" / "run", "sb3", steps, metrics)
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "logs" / "cache"))
    result = lrdoctor("watch", tmp_path / "logs", "--once")
    assert result.exit_code == 0
    assert "cache not used" in result.stderr and not (tmp_path / "logs" / "cache").exists()
