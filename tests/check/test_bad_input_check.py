"""What bad config files get from ``lrdoctor check``, through the real CLI (docs/bad-input.md).

Each file in tests/bad_inputs/configs/ is one ``file:line:col: parse error`` line (exit
2) or one ``skipped`` line, and the other files are still checked; nothing in a config
runs; a pipe or a device named like a config is skipped without reading it (those two
run in a subprocess with 1 GB of address space, so a regression fails instead of
hanging the suite).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input import (
    HOSTILE_NAME,
    assert_no_injected_line,
    error_line,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
)

TESTS = Path(__file__).resolve().parents[1]
BAD = TESTS / "bad_inputs"


CHECK_CASES = [
    # file, exit code, the line on stderr after "<file>"
    ("syntax_error.yaml", 2, ":3:8: parse error expected ',' or ']', but got ':'"),
    ("syntax_error.json", 2, ":3:1: parse error Expecting property name enclosed in double quotes"),
    ("syntax_error.toml", 2, ":3:17: parse error Invalid value"),
    ("alias_bomb.yaml", 2, ":1:14: parse error more than 100,000 values once aliases are expanded"),
    ("deep_nesting.json", 2, ":1:390: parse error nesting deeper than 64 levels"),
    ("deep_nesting.yaml", 2, ":1:67: parse error nesting deeper than 64 levels"),
    ("deep_nesting.toml", 2, ":1:1: parse error nesting deeper than 64 levels"),
    ("binary.yaml", 0, ": skipped: binary file"),
    ("latin1.yaml", 0, ": skipped: not UTF-8 text"),
    ("huge_integer.json", 2, ":1:40: parse error a number with more than 4300 digits"),
    ("huge_integer.toml", 2, ":2:11: parse error a number with more than 4300 digits"),
]


@pytest.mark.parametrize("name, code, line", CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_check_bad_config(monkeypatch, name, code, line):
    monkeypatch.chdir(BAD / "configs")  # check names files relative to the working directory
    result = lrdoctor("check", name, "--format", "json")
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == f"{name}{line}"
    assert json.loads(result.stdout)["findings"] == []


def test_check_keeps_checking_the_other_files(tmp_path):
    for name, _, _ in CHECK_CASES:
        shutil.copy(BAD / "configs" / name, tmp_path / name)
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    result = lrdoctor("check", tmp_path, "--format", "sarif")
    assert result.exit_code == 2
    sarif = json.loads(result.stdout)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"LRD003"}
    assert len([line for line in result.stderr.splitlines() if str(tmp_path) in line]) == len(CHECK_CASES)


def test_check_counts_a_file_reached_twice_once(tmp_path):
    corpus = TESTS / "check_corpus" / "fail"
    once = lrdoctor("check", corpus, "--format", "json")
    twice = lrdoctor("check", corpus, corpus / "zoo_ppo_lstm.yml", "--format", "json")
    assert once.exit_code == twice.exit_code == 1
    assert json.loads(twice.stdout)["findings"] == json.loads(once.stdout)["findings"]


def test_check_huge_file_is_skipped(tmp_path):
    from lrdoctor.configs.loaders import MAX_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * (MAX_BYTES // 5 + 1))
    result = lrdoctor("check", big)
    assert result.exit_code == 0
    size = big.stat().st_size
    assert result.stderr.splitlines()[0] == (
        f"{big}: skipped: {size:,} bytes is over the {MAX_BYTES:,}-byte limit for a config file"
    )


@pytest.mark.parametrize("name", ["python_tags.yaml", "zoo_policy_kwargs_code.yml"])
def test_check_never_runs_code_from_a_config(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    result = lrdoctor("check", BAD / "configs" / name)
    assert result.exit_code in (0, 1)
    assert not (tmp_path / "lrdoctor-was-pwned").exists()


def test_check_missing_path(tmp_path):
    result = lrdoctor("check", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {tmp_path / 'nope.yaml'}: no such file or directory"


@pytest.mark.parametrize("name", ["huge_integer.json", "huge_integer.toml"])
def test_check_huge_integer_is_a_parse_error_of_that_file(tmp_path, name):
    shutil.copy(BAD / "configs" / name, tmp_path)
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    result = lrdoctor("check", tmp_path)
    assert result.exit_code == 2
    assert re.match(rf"{re.escape(str(tmp_path / name))}:\d+:\d+: parse error ", result.stderr)
    assert "LRD003" in result.stdout


def check_in_subprocess(directory: Path, timeout: float) -> subprocess.CompletedProcess | None:
    """``lrdoctor check`` in a child with 1 GB of address space; None when it hangs.
    (A child, so that a regression fails this test instead of hanging the suite.)"""

    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    command = [sys.executable, "-m", "lrdoctor", "check", str(directory)]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None


def test_check_skips_a_fifo_named_like_a_config(tmp_path):
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    os.mkfifo(tmp_path / "pipe.yaml")
    result = check_in_subprocess(tmp_path, timeout=60)  # a regression would block forever
    assert result is not None and result.returncode == 1
    assert f"{tmp_path / 'pipe.yaml'}: skipped: not a regular file" in result.stderr.splitlines()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_check_skips_a_link_to_a_device(tmp_path):
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    (tmp_path / "config.yaml").symlink_to("/dev/zero")
    result = check_in_subprocess(tmp_path, timeout=60)  # a regression would read until out of memory
    assert result is not None and result.returncode == 1
    assert f"{tmp_path / 'config.yaml'}: skipped: /dev/zero is in /dev, a system directory" in result.stderr.splitlines()


# --- names chosen by whoever made the files ---------------------------------------------


def test_control_characters_in_config_names_never_reach_check_output_raw(tmp_path):
    (tmp_path / (HOSTILE_NAME + ".yaml")).write_text("a: [1\n")
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path / (HOSTILE_NAME + ".yml"))
    result = lrdoctor("check", tmp_path)
    assert result.exit_code == 2
    assert_no_injected_line(result.stderr)
    assert_no_injected_line(result.stdout)
