"""What bad config files get from ``lrdoctor check``, through the real CLI (docs/bad-input.md).

The gate fails closed: each file in tests/bad_inputs/configs/ that cannot be read is one
LRD013 config-unreadable finding, ``file:line:col: LRD013 error parse error: …`` or
``… not read: …`` (exit 1), and the other files are still checked; a unit over a reading
budget ends that unit alone; a path with nothing to check is exit 2. Nothing in a config
runs; a pipe, a device or a link into /proc named like a config is never read (those
run in a subprocess with 1 GB of address space, so a regression fails instead of
hanging the suite). Every input is byte-identical afterwards.
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
    HOSTILE_TEXT,
    assert_no_injected_line,
    assert_shown_safely,
    contents,
    error_line,
    hostile_configs,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
)

from lrdoctor.words import display

TESTS = Path(__file__).resolve().parents[1]
BAD = TESTS / "bad_inputs"


NOT_CHECKED = " (nothing in this file was checked)"
CHECK_CASES = [
    # file, exit code (an unreadable file is an error finding: 1), the LRD013 line after "<file>"
    ("syntax_error.yaml", 1, ":3:8: LRD013 error parse error: expected ',' or ']', but got ':'"),
    ("syntax_error.json", 1, ":3:1: LRD013 error parse error: Expecting property name enclosed in double quotes"),
    ("syntax_error.toml", 1, ":3:17: LRD013 error parse error: Invalid value"),
    ("alias_bomb.yaml", 1, ":1:14: LRD013 error parse error: more than 100,000 values once aliases are expanded"),
    ("deep_nesting.json", 1, ":1:390: LRD013 error parse error: nesting deeper than 64 levels"),
    ("deep_nesting.yaml", 1, ":1:67: LRD013 error parse error: nesting deeper than 64 levels"),
    ("deep_nesting.toml", 1, ":1:1: LRD013 error parse error: nesting deeper than 64 levels"),
    ("binary.yaml", 1, ":1:1: LRD013 error not read: binary file"),
    ("latin1.yaml", 1, ":1:1: LRD013 error not read: not UTF-8 text"),
    ("huge_integer.json", 1, ":1:40: LRD013 error parse error: a number with more than 4300 digits"),
    ("huge_integer.toml", 1, ":2:11: LRD013 error parse error: a number with more than 4300 digits"),
]


@pytest.mark.parametrize("name, code, line", CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_check_bad_config(monkeypatch, name, code, line):
    monkeypatch.chdir(BAD / "configs")  # check names files relative to the working directory
    before = contents(BAD / "configs")
    result = lrdoctor("check", "--format", "concise", name)
    full = lrdoctor("check", name).stdout  # the full text points at where parsing stopped; unread has no line
    assert "^" in full or " LRD013 error not read: " in full
    assert result.exit_code == code
    assert result.stdout.splitlines() == [f"{name}{line}{NOT_CHECKED}"]
    assert result.stderr.splitlines() == ["lrdoctor check: 1 file, 0 units: 1 error, 1 not read"]
    (finding,) = json.loads(lrdoctor("check", name, "--format", "json").stdout)["findings"]
    assert (finding["code"], finding["rule"], finding["severity"]) == ("LRD013", "config-unreadable", "error")
    assert contents(BAD / "configs") == before


def test_check_keeps_checking_the_other_files(tmp_path):
    for name, _, _ in CHECK_CASES:
        shutil.copy(BAD / "configs" / name, tmp_path / name)
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    result = lrdoctor("check", tmp_path, "--format", "sarif")
    assert result.exit_code == 1
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"LRD003", "LRD013"}
    assert len([r for r in results if r["ruleId"] == "LRD013"]) == len(CHECK_CASES)


def test_an_unreadable_file_fails_the_gate_unless_lrd013_is_ignored(tmp_path):
    shutil.copy(BAD / "configs" / "syntax_error.yaml", tmp_path)
    shutil.copy(TESTS / "check_corpus" / "pass" / "zoo_feedforward.yml", tmp_path)
    assert lrdoctor("check", tmp_path).exit_code == 1
    ignored = lrdoctor("check", tmp_path, "--ignore", "config-unreadable")
    assert ignored.exit_code == 0 and ignored.stdout == ""
    assert ignored.stderr.splitlines() == ["lrdoctor check: 2 files, 3 units: no findings, 1 not read"]
    assert lrdoctor("check", tmp_path, "--fail-on", "never").exit_code == 0


def test_check_counts_a_file_reached_twice_once(tmp_path):
    corpus = TESTS / "check_corpus" / "fail"
    once = lrdoctor("check", corpus, "--format", "json")
    twice = lrdoctor("check", corpus, corpus / "zoo_ppo_lstm.yml", "--format", "json")
    assert once.exit_code == twice.exit_code == 1
    assert json.loads(twice.stdout)["findings"] == json.loads(once.stdout)["findings"]


def test_check_huge_file_is_a_finding(tmp_path):
    """Once "skipped" with exit 0: the gate passed a file it never read."""
    from lrdoctor.configs.loaders import MAX_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * (MAX_BYTES // 5 + 1))
    result = lrdoctor("check", big)
    assert result.exit_code == 1
    size = big.stat().st_size
    assert result.stdout.splitlines() == [
        f"{big}:1:1: LRD013 error not read: {size:,} bytes is over the {MAX_BYTES:,}-byte limit{NOT_CHECKED}"
    ]


def test_a_unit_over_a_reading_budget_ends_that_unit_alone(monkeypatch):
    """``"-" * 10_000`` in a zoo policy_kwargs once ended check with an internal MemoryError."""
    monkeypatch.chdir(BAD / "configs")
    before = contents(BAD / "configs")
    result = lrdoctor("check", "--format", "concise", "zoo_policy_kwargs_deep.yml")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "zoo_policy_kwargs_deep.yml:5:3: LRD013 error [MinusSigns-v1] unit MinusSigns-v1 not read: "
        "policy_kwargs is longer than 2,000 characters (nothing in this unit was checked)",
        "zoo_policy_kwargs_deep.yml:8:3: LRD013 error [NestedBrackets-v1] unit NestedBrackets-v1 not read: "
        "policy_kwargs nests deeper than 32 levels (nothing in this unit was checked)",
    ]
    assert lines[2].startswith("zoo_policy_kwargs_deep.yml:12:3: LRD002 error ")  # the third unit is judged
    assert result.stderr.splitlines() == ["lrdoctor check: 1 file, 3 units: 3 errors, 1 info, 2 not read"]
    assert contents(BAD / "configs") == before


def test_a_parser_out_of_stack_or_memory_ends_that_file_or_unit_alone(tmp_path, monkeypatch):
    """Past the loaders' and formats' budgets, whatever a hostile file still costs a parser."""
    from lrdoctor.check import lint

    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    (tmp_path / "other.yaml").write_text("a: 1\n")
    real_load, real_read_unit = lint.read_document, lint.read_unit

    def load(path, text):
        if path.name == "other.yaml":
            raise MemoryError
        return real_load(path, text)

    def read_unit(document, unit, file):
        if unit.name == "CartPoleNoVel-v1":
            raise RecursionError("maximum recursion depth exceeded")
        return real_read_unit(document, unit, file)

    monkeypatch.setattr(lint, "read_document", load)
    monkeypatch.setattr(lint, "read_unit", read_unit)
    monkeypatch.chdir(tmp_path)
    result = lrdoctor("check", "--format", "concise", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    unparsed = "other.yaml:1:1: LRD013 error parse error: too deep or too large to parse (MemoryError)"
    assert unparsed + NOT_CHECKED in lines
    unit_lines = [line for line in lines if "unit CartPoleNoVel-v1 not read" in line]
    assert unit_lines and unit_lines[0].endswith(
        "LRD013 error [CartPoleNoVel-v1] unit CartPoleNoVel-v1 not read: too deep or too large to read (RecursionError) "
        "(nothing in this unit was checked)")
    assert any(" LRD002 " in line for line in lines)  # the file's other units are still judged


@pytest.mark.parametrize("case", ["empty directory", "symlink loop", "only hidden files"])
def test_a_path_with_nothing_to_check_is_a_usage_error(tmp_path, case):
    """Once "0 files", exit 0: the gate passed without reading anything."""
    where = tmp_path / "configs"
    where.mkdir()
    if case == "symlink loop":
        (where / "loop").symlink_to(where)
    elif case == "only hidden files":
        (where / ".github").mkdir()
        (where / ".github" / "ci.yml").write_text("a: 1\n")
    before = contents(tmp_path)
    result = lrdoctor("check", where)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"lrdoctor: error: {where}: no config file (*.yaml, *.yml, *.json, *.toml) under it"
    ]
    assert contents(tmp_path) == before


def test_a_link_that_leads_nowhere_is_a_usage_error(tmp_path):
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    result = lrdoctor("check", tmp_path / "loop.yaml")
    assert result.exit_code == 2
    link = tmp_path / "loop.yaml"
    assert error_line(result) == f"lrdoctor: error: {link}: a link that leads nowhere (dangling, or a loop)"


def test_a_file_named_that_is_no_config_is_a_usage_error(tmp_path):
    (tmp_path / "README.md").write_text("# hello\n")
    result = lrdoctor("check", tmp_path / "README.md")
    assert result.exit_code == 2
    assert error_line(result) == (
        f"lrdoctor: error: {tmp_path / 'README.md'}: not a YAML, JSON or TOML file (*.yaml, *.yml, *.json, *.toml)"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_check_never_searches_proc():
    result = lrdoctor("check", "/proc")
    assert result.exit_code == 2
    assert error_line(result) == "lrdoctor: error: /proc: /proc is in /proc, a system directory: not searched"


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
    assert result.exit_code == 1
    assert re.match(rf"{re.escape(str(tmp_path / name))}:\d+:\d+: LRD013 error parse error: ", result.stdout)
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
    expected = f"{tmp_path / 'pipe.yaml'}:1:1: LRD013 error not read: not a regular file{NOT_CHECKED}"
    assert expected in result.stdout.splitlines()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_check_skips_a_link_to_a_device(tmp_path):
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    (tmp_path / "config.yaml").symlink_to("/dev/zero")
    result = check_in_subprocess(tmp_path, timeout=60)  # a regression would read until out of memory
    assert result is not None and result.returncode == 1
    expected = f"{tmp_path / 'config.yaml'}:1:1: LRD013 error not read: /dev/zero is in /dev, a system directory"
    assert f"{expected}{NOT_CHECKED}" in result.stdout.splitlines()


@pytest.mark.skipif(not Path("/proc/kmsg").exists(), reason="needs /proc/kmsg")
def test_check_never_reads_a_link_into_proc(tmp_path):
    """stat calls /proc/kmsg a regular file of size 0; reading it blocks until the kernel logs
    (and, as root, takes the messages from whoever else reads them)."""
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path)
    (tmp_path / "config.yaml").symlink_to("/proc/kmsg")
    before = contents(tmp_path)
    result = check_in_subprocess(tmp_path, timeout=60)  # a regression would block forever
    assert result is not None and result.returncode == 1
    expected = f"{tmp_path / 'config.yaml'}:1:1: LRD013 error not read: /proc/kmsg is in /proc, a system directory"
    assert f"{expected}{NOT_CHECKED}" in result.stdout.splitlines()
    assert contents(tmp_path) == before


# --- names chosen by whoever made the files ---------------------------------------------


def test_control_characters_in_config_names_never_reach_check_output_raw(tmp_path):
    (tmp_path / (HOSTILE_NAME + ".yaml")).write_text("a: [1\n")
    shutil.copy(TESTS / "check_corpus" / "fail" / "zoo_ppo_lstm.yml", tmp_path / (HOSTILE_NAME + ".yml"))
    result = lrdoctor("check", tmp_path)
    assert result.exit_code == 1
    assert_no_injected_line(result.stderr)
    assert_no_injected_line(result.stdout)


# --- every class of untrusted text, in every format of check --------------------------------
# A zoo file and its unit are named HOSTILE_TEXT; a trainer config names its architecture so.

SHOWN = display(HOSTILE_TEXT)


def test_hostile_text_in_check_text(tmp_path):
    result = lrdoctor("check", hostile_configs(tmp_path))
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)
    assert_shown_safely(result.stderr)
    lines = lrdoctor("check", "--format", "concise", hostile_configs(tmp_path)).stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith(str(tmp_path)) for line in lines)  # a finding a line
    assert any(f'recurrent GRU policy "{SHOWN}"' in line for line in lines)


def test_hostile_text_in_check_json_is_exact(tmp_path):
    result = lrdoctor("check", hostile_configs(tmp_path), "--format", "json")
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)
    findings = json.loads(result.stdout)["findings"]
    assert {f["unit"] for f in findings} == {"", HOSTILE_TEXT}
    assert HOSTILE_TEXT in {f["evidence"].get("architecture_name") for f in findings}


def test_hostile_text_in_check_sarif(tmp_path):
    result = lrdoctor("check", hostile_configs(tmp_path), "--format", "sarif")
    assert result.exit_code == 1
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert len(results) == 3
    for entry in results:
        assert_shown_safely(entry["message"]["text"])
        assert re.fullmatch(r"[A-Za-z0-9%/._~:-]+", entry["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])


def test_hostile_text_in_github_annotations(tmp_path):
    result = lrdoctor("check", hostile_configs(tmp_path), "--format", "github")
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # one annotation per finding, and no line of a name's own
    for line in lines:
        command, properties, message = re.fullmatch(r"::(error|warning|notice) ([^:]*)::(.*)", line).groups()
        assert all(re.fullmatch(r"(file|line|col|title)=[^,:]*", p) for p in properties.split(","))
        assert "%0A" not in message.replace("%250A", "")  # the name's own %0A is shown, never decoded
    assert any(f'policy "{SHOWN.replace("%", "%25")}"' in line for line in lines)


@pytest.mark.parametrize("name", ["zoo.yml", "zoo.json"])
def test_cr_only_line_endings_are_read(tmp_path, name):
    """Classic-Mac line endings (CR alone): YAML and JSON both take CR as a line break."""
    text = {"zoo.yml": "CartPole-v1:\r  policy: MlpLstmPolicy\r  learning_rate: 0.0003\r",
            "zoo.json": '{"CartPole-v1": {\r"policy": "MlpLstmPolicy",\r"learning_rate": 0.0003}}\r'}[name]
    (tmp_path / name).write_bytes(text.encode())
    result = lrdoctor("check", tmp_path / name, "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert "LRD002" in {f["code"] for f in json.loads(result.stdout)["findings"]}


def test_a_toml_with_cr_only_line_endings_is_named_as_such(tmp_path):
    config = tmp_path / "train.toml"
    config.write_bytes(b'[model]\rrnn_type = "gru"\r')
    result = lrdoctor("check", config)
    assert result.exit_code == 1 and "CR-only line endings" in result.stdout
