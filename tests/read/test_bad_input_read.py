"""What bad input gets from the reading stage, through the real CLI (docs/bad-input.md).

Discovery (missing, unreadable, odd and linked paths), damaged event files,
progress.csv files that are not data, configs beside a run that cannot be used, and
the cache's environment: each case checks the read problem or the one error line on
stderr and the exit code. Inputs come from tests/bad_inputs/ (configs, progress.csv
files) and tests/event_corpus/ (damaged event files); good runs beside them are
SYNTHETIC, written by tensorboardX (tests/writers.py).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
from bad_input import (
    EVENT_CASES,
    analyze,
    append_scalar,
    contents,
    corpus_run,
    error_line,
    in_subprocess,
    peak_rss_mb,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
    rewrite_scalar,
    tree,
)
from writers import synthetic_collapse, write_run, write_tags

from lrdoctor.read import ingest

TESTS = Path(__file__).resolve().parents[1]
BAD = TESTS / "bad_inputs"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def good_run(directory: Path, n: int = 20) -> Path:
    """SYNTHETIC: a healthy-looking SB3 run of ``n`` steps (tensorboardX event file)."""
    steps, metrics = synthetic_collapse(n)
    write_run(directory, "sb3", steps, {"kl": metrics["kl"] * 0.1, "lr": metrics["lr"], "entropy": metrics["entropy"]})
    return directory


def unreadable_file(path: Path) -> str:
    """An event file that exists but cannot be read; returns the read problem it gets.

    chmod 000 when not root: "cannot read: Permission denied". Root reads anything chmod
    allows, so there a link to /proc/self/mem stands in; a link into /proc is now never
    opened (it could block or never end), so it is the system-file note that is expected.
    """
    if not IS_ROOT:
        path.write_bytes(b"x" * 64)
        path.chmod(0)
        return f"{path.parent}: unreadable run: {path.name}: cannot read: Permission denied"
    if not Path("/proc/self/mem").exists():
        pytest.skip("running as root without /proc: no file root cannot read")
    path.symlink_to("/proc/self/mem")
    return f"{path}: link to {os.path.realpath('/proc/self/mem')}, a system file: skipped"


# --- analyze: paths ---------------------------------------------------------------------


def test_missing_path(tmp_path):
    result = analyze(tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stderr == f"lrdoctor: error: no such file or directory: {tmp_path / 'nope'}\n"


@pytest.mark.parametrize("bound", ["2GB", "1e308"])  # 1e308 MB once overflowed into an internal error
def test_a_cache_bound_that_is_not_a_size(tmp_path, monkeypatch, bound):
    monkeypatch.setenv("LRDOCTOR_CACHE_MAX_MB", bound)
    run = good_run(tmp_path / "run")
    result = analyze(run)
    assert result.exit_code == 2
    assert result.stderr == (
        f"lrdoctor: error: LRDOCTOR_CACHE_MAX_MB={bound}: expected a size in megabytes from 0 to 1,073,741,824, e.g. 2048\n"
    )
    assert analyze(run, "--no-cache").exit_code == 0  # no cache, no bound to read


def test_directory_without_runs(tmp_path):
    result = analyze(tmp_path)
    assert result.exit_code == 2
    assert error_line(result) == (
        f"lrdoctor: error: no readable run under {tmp_path} (looked for events.out.tfevents.*, progress.csv, result.json, W&B and MLflow runs)"
    )


def test_a_file_that_is_not_a_run(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    result = analyze(notes)
    assert result.exit_code == 2
    expected = (f"lrdoctor: read problem: {notes}: not an event file (events.out.tfevents.*), progress.csv, "
                "result.json, .wandb or mlflow.db")
    assert expected in result.stderr
    assert "no readable run under" in error_line(result)


def test_unreadable_event_file_alone_is_exit_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    problem = unreadable_file(run / "events.out.tfevents.1.host")
    result = analyze(tmp_path)
    assert result.exit_code == 2
    assert f"lrdoctor: read problem: {problem}" in result.stderr.splitlines()
    assert "no readable run under" in error_line(result)


def test_bad_runs_are_listed_and_good_runs_analysed(tmp_path):
    good_run(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    bad = unreadable_file(tmp_path / "bad" / "events.out.tfevents.1.host")
    shutil.copytree(BAD / "runs" / "csv_not_utf8", tmp_path / "csv")
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code in (0, 1)
    report = json.loads(result.stdout)
    assert [run["name"] for run in report["runs"]] == ["good"]
    problems = [line for line in result.stderr.splitlines() if line.startswith("lrdoctor: read problem: ")]
    assert f"lrdoctor: read problem: {bad}" in problems
    assert any(f"{tmp_path / 'csv'}: unreadable run: " in line and "not UTF-8 text" in line for line in problems)


@pytest.mark.parametrize("kind", ["fifo", "dangling link"])
def test_event_file_that_is_not_a_regular_file_is_skipped(tmp_path, kind):
    good_run(tmp_path / "good")
    (tmp_path / "odd").mkdir()
    odd = tmp_path / "odd" / "events.out.tfevents.1.host"
    if kind == "fifo":
        os.mkfifo(odd)  # opening it to read would block forever
    else:
        odd.symlink_to(tmp_path / "gone")
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code in (0, 1)
    expected = f"lrdoctor: read problem: {odd}: not a regular file (a dangling link, pipe or device): skipped"
    assert expected in result.stderr
    assert [run["name"] for run in json.loads(result.stdout)["runs"]] == ["good"]


@pytest.mark.parametrize(
    "target, message",
    [
        (".", "symlink loop (link to an enclosing directory): skipped"),
        ("/", "symlink loop (link to an enclosing directory): skipped"),  # never walks the whole disk
        ("/proc", "link to /proc, a system directory: skipped"),
        ("other", "symlink loop (directory already visited): skipped"),  # a second way into one directory
    ],
)
def test_symlinked_directories_that_are_not_followed(tmp_path, target, message):
    if target.startswith("/") and not Path(target).is_dir():
        pytest.skip(f"no {target} here")
    good_run(tmp_path / "good")
    if target == "other":
        (tmp_path / "other").mkdir()
        target = tmp_path / "other"
        (tmp_path / "a_link").symlink_to(target)
    else:
        (tmp_path / "a_link").symlink_to(tmp_path if target == "." else target)
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code in (0, 1)
    where = tmp_path / ("other" if target == tmp_path / "other" else "a_link")
    assert f"lrdoctor: read problem: {where}: {message}" in result.stderr.splitlines()
    assert len(json.loads(result.stdout)["runs"]) == 1


KMSG = Path("/proc/kmsg")  # stat says: a regular file of size 0; a read blocks until the kernel logs


@pytest.mark.skipif(not KMSG.exists() or not Path("/dev/zero").exists(), reason="needs /proc/kmsg and /dev/zero")
def test_links_into_proc_and_dev_named_like_logs_are_never_read(tmp_path):
    """A link named like an event file into /proc once hung analyze forever (a child process
    under a timeout, so a regression fails here instead of hanging the suite)."""
    good_run(tmp_path / "good")
    (tmp_path / "good" / "config.yaml").symlink_to(KMSG)
    (tmp_path / "kmsg").mkdir()
    (tmp_path / "kmsg" / "events.out.tfevents.1.host").symlink_to(KMSG)
    (tmp_path / "zero").mkdir()
    (tmp_path / "zero" / "progress.csv").symlink_to("/dev/zero")  # endless
    before = contents(tmp_path)
    result = in_subprocess("analyze", tmp_path, "--format", "json", "--no-cache")
    assert result is not None, "analyze did not end"
    assert result.returncode in (0, 1), result.stderr
    assert [run["name"] for run in json.loads(result.stdout)["runs"]] == ["good"]
    problems = result.stderr.splitlines()
    kmsg = tmp_path / "kmsg" / "events.out.tfevents.1.host"
    assert f"lrdoctor: read problem: {kmsg}: link to /proc/kmsg, a system file: skipped" in problems
    zero = tmp_path / "zero" / "progress.csv"
    assert f"lrdoctor: read problem: {zero}: link to /dev/zero, a system file: skipped" in problems
    config = tmp_path / "good" / "config.yaml"
    assert f"lrdoctor: read problem: {config}: config not read: /proc/kmsg is in /proc, a system directory" in problems
    assert contents(tmp_path) == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("given", ["/proc", "a link to /proc", "a link to /proc/kmsg"])
def test_analyze_never_searches_proc(tmp_path, given):
    if given == "/proc":
        path = Path("/proc")
    else:
        path = tmp_path / ("proc" if given.endswith("/proc") else "events.out.tfevents.1.host")
        path.symlink_to("/proc" if given.endswith("/proc") else KMSG)
    result = in_subprocess("analyze", path)  # it once walked /proc for ever
    assert result is not None, "analyze did not end"
    assert result.returncode == 2
    target = "/proc" if given != "a link to /proc/kmsg" else "/proc/kmsg"
    assert result.stderr.splitlines() == [
        f"lrdoctor: read problem: {path}: {target} is in /proc, a system directory: skipped",
        f"lrdoctor: error: no readable run under {path} (looked for events.out.tfevents.*, progress.csv, result.json, W&B and MLflow runs)",
    ]


def test_a_linked_run_from_elsewhere_is_followed(tmp_path):
    good_run(tmp_path / "scratch" / "run1")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "run1").symlink_to(tmp_path / "scratch" / "run1")
    result = analyze(tmp_path / "sweep", "--format", "json")
    assert result.exit_code in (0, 1)
    assert [run["name"] for run in json.loads(result.stdout)["runs"]] == ["run1"]


def test_non_utf8_directory_name_and_thousands_of_empty_directories(tmp_path):
    for index in range(3000):
        (tmp_path / f"empty{index:04d}").mkdir()
    odd = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"run-\xff"))
    good_run(Path(odd))
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code in (0, 1)
    (run,) = json.loads(result.stdout)["runs"]
    assert run["name"] == "run-\ufffd"


def test_overlapping_arguments_analyse_each_run_once(tmp_path):
    good_run(tmp_path / "sweep" / "a")
    good_run(tmp_path / "sweep" / "b")
    (tmp_path / "alias").symlink_to(tmp_path / "sweep" / "a")
    result = analyze(tmp_path / "sweep", tmp_path / "sweep" / "a", tmp_path / "alias", "--format", "json")
    assert result.exit_code in (0, 1)
    assert [run["name"] for run in json.loads(result.stdout)["runs"]] == ["a", "b"]


def test_a_run_hard_linked_into_another_directory_is_analysed_once(tmp_path):
    good_run(tmp_path / "sweep" / "a")
    (tmp_path / "sweep" / "copy").mkdir()
    for event_file in (tmp_path / "sweep" / "a").iterdir():
        os.link(event_file, tmp_path / "sweep" / "copy" / event_file.name)
    result = analyze(tmp_path / "sweep", "--format", "json")
    assert result.exit_code in (0, 1)
    assert len(json.loads(result.stdout)["runs"]) == 1


@pytest.mark.skipif(IS_ROOT, reason="root lists a chmod 000 directory; no honest unreadable directory for root")
def test_unreadable_directory_is_reported(tmp_path):
    good_run(tmp_path / "good")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = analyze(tmp_path, "--format", "json")
    finally:
        locked.chmod(0o755)
    assert result.exit_code in (0, 1)
    assert f"lrdoctor: read problem: {locked}: cannot read directory: Permission denied" in result.stderr


# --- analyze: event files ---------------------------------------------------------------


@pytest.mark.parametrize("case, problem, points", EVENT_CASES, ids=[c[0] for c in EVENT_CASES])
def test_damaged_event_file(tmp_path, case, problem, points):
    run = corpus_run(case, tmp_path / case)
    (event_file,) = run.glob("events.out.tfevents.*")
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert f"lrdoctor: read problem: {event_file} {problem}" in result.stderr.splitlines()[0]
    (report,) = json.loads(result.stdout)["runs"]
    logged = sum(metric["points"] for metric in report["metrics"].values())
    assert logged == points


def test_many_corrupt_records_are_summarised_after_twenty_lines(tmp_path):
    import struct

    run = good_run(tmp_path / "run")
    (event_file,) = run.glob("events.out.tfevents.*")
    data, offset, starts = bytearray(event_file.read_bytes()), 0, []
    while offset < len(data):
        starts.append(offset)
        offset += struct.unpack_from("<Q", data, offset)[0] + 16
    for start in starts[1:31]:  # one flipped bit in each of 30 scalar payloads
        data[start + 12] ^= 0x40
    event_file.write_bytes(bytes(data))
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    lines = [line for line in result.stderr.splitlines() if str(event_file) in line]
    assert len(lines) == 21 and all("corrupt record (CRC mismatch); record skipped" in line for line in lines[:20])
    assert lines[20] == f"lrdoctor: read problem: {event_file}: 10 more corrupt records skipped"


def test_a_file_replaced_by_a_shorter_one_is_read_again(tmp_path):
    """The cache holds the first read; the copy is then cut short, as a re-synced log can be."""
    run = good_run(tmp_path / "run")
    (event_file,) = run.glob("events.out.tfevents.*")
    first = json.loads(analyze(run, "--format", "json").stdout)["runs"][0]["metrics"]["kl"]["points"]
    content = event_file.read_bytes()
    event_file.write_bytes(content[: len(content) // 2])
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    second = json.loads(result.stdout)["runs"][0]["metrics"]["kl"]["points"]
    fresh = json.loads(analyze(run, "--format", "json", "--no-cache").stdout)["runs"][0]["metrics"]["kl"]["points"]
    assert 0 < second == fresh < first
    assert f"lrdoctor: read problem: {event_file} @ byte " in result.stderr


def peak_kl(result) -> float | None:
    """The KL peak LRD001 reports; None when KL stayed under its threshold."""
    findings = json.loads(result.stdout)["runs"][0]["findings"]
    return next((f["evidence"]["peak"] for f in findings if f["code"] == "LRD001"), None)


def test_an_event_file_rewritten_with_its_old_size_and_mtime_is_not_served_from_the_cache(tmp_path):
    """Rewritten in place and given its mtime back (``touch -r``, ``rsync --times``): the
    cache must not answer with the old numbers (a peak KL of None where the file now says 0.5)."""
    run = good_run(tmp_path / "run")
    (event_file,) = run.glob("events.out.tfevents.*")
    first = analyze(run, "--format", "json")
    assert first.exit_code == 0 and peak_kl(first) is None
    before = event_file.stat()
    rewrite_scalar(event_file, "train/approx_kl", int(synthetic_collapse(20)[0][10]), 0.5)
    os.utime(event_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (event_file.stat().st_size, event_file.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    inputs = tree(tmp_path / "run")
    result = analyze(run, "--format", "json")
    fresh = analyze(run, "--format", "json", "--no-cache")
    # one reading of 0.5 is a spike its rolling median never passes: info, exit 0 (issue 15)
    assert result.exit_code == fresh.exit_code == 0
    assert peak_kl(result) == peak_kl(fresh) == pytest.approx(0.5)
    assert result.stdout == fresh.stdout and "lrdoctor: error" not in result.stderr
    assert tree(tmp_path / "run") == inputs


def test_an_event_file_rewritten_in_the_middle_then_grown_is_read_in_full(tmp_path):
    """The first and last 4 KB of what was read are unchanged and the file grew, as when
    appended to; only a checksum of the whole prefix shows the middle changed."""
    run = good_run(tmp_path / "run", n=400)
    (event_file,) = run.glob("events.out.tfevents.*")
    assert analyze(run, "--format", "json").exit_code == 0
    size, steps = event_file.stat().st_size, synthetic_collapse(400)[0]
    start, end = rewrite_scalar(event_file, "train/approx_kl", int(steps[200]), 0.5)
    assert 4096 < start and end < size - 4096
    append_scalar(event_file, "train/approx_kl", int(steps[-1]) + 1, 0.001)
    inputs = tree(tmp_path / "run")
    result = analyze(run, "--format", "json")
    fresh = analyze(run, "--format", "json", "--no-cache")
    # one reading of 0.5 is a spike its rolling median never passes: info, exit 0 (issue 15)
    assert result.exit_code == fresh.exit_code == 0
    assert peak_kl(result) == peak_kl(fresh) == pytest.approx(0.5) and result.stdout == fresh.stdout
    assert tree(tmp_path / "run") == inputs


def test_a_shared_cache_directory_keeps_its_users_files(tmp_path, monkeypatch):
    """LRDOCTOR_CACHE_DIR=~/.cache or /tmp, pruned on every run (a bound of 0 MB): the
    cache deletes its own entries, never a user's ``model.bin`` or old ``notes.tmp``."""
    shared = tmp_path / "shared"
    theirs = {
        "model.bin": b"weights", "notes.tmp": b"notes", "pip/http/cache.bin": b"x" * 4096,
        "lrdoctor-cache-v3/model.bin": b"weights", "lrdoctor-cache-v3/runs/notes.tmp": b"notes",
        "lrdoctor-cache-v3/events/" + "0" * 64 + ".bin": b"named like an entry",
    }
    for name, content in theirs.items():
        (shared / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / name).write_bytes(content)
        os.utime(shared / name, ns=(10**9, 10**9))  # older than anything, and than an hour
    users = {name: value for name, value in tree(shared).items() if name in theirs}
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(shared))
    monkeypatch.setenv("LRDOCTOR_CACHE_MAX_MB", "0")
    runs = [good_run(tmp_path / f"run{i}") for i in range(2)]
    inputs = [tree(run) for run in runs]
    fresh = analyze(runs[0], "--format", "json", "--no-cache")

    def entries() -> set[Path]:
        return {p for p in shared.glob("lrdoctor-cache-v*/*/*.bin") if p.read_bytes().startswith(b"LRDENTRY")}

    for index, run in enumerate(runs):
        result = analyze(run, "--format", "json")
        assert result.exit_code == 0 and result.stderr == fresh.stderr.replace("run0", run.name)
        if index == 0:
            first = entries()
            for entry in first:  # last used ten minutes ago: the next analysis prunes them
                os.utime(entry, ns=(entry.stat().st_atime_ns - 600 * 10**9, entry.stat().st_mtime_ns - 600 * 10**9))
    assert first and not first & entries()  # the cache did prune its own
    assert {name: value for name, value in tree(shared).items() if name in users} == users
    assert [tree(run) for run in runs] == inputs


# --- analyze: progress.csv and configs beside a run ------------------------------------

CSV_CASES = [
    ("csv_not_utf8", "not UTF-8 text"),
    ("csv_empty", "empty file: no header row"),
    ("csv_no_step", "no time/total_timesteps column (SB3) or training_iteration column (Tune) to use as the step"),
]


@pytest.mark.parametrize("case, reason", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_bad_progress_csv(tmp_path, case, reason):
    run = shutil.copytree(BAD / "runs" / case, tmp_path / case)
    result = analyze(run)
    assert result.exit_code == 2
    expected = f"lrdoctor: read problem: {run}: unreadable run: {run / 'progress.csv'}: {reason}"
    assert result.stderr.splitlines()[0] == expected
    assert "no readable run under" in error_line(result)


CSV_NOTE_CASES = [
    # case, note, the kl points that are read: only whole-number steps, only numbers, only whole lines
    ("csv_bad_steps", "3 rows without a whole-number time/total_timesteps skipped", {-5: 0.05, 2048: 0.01}),
    ("csv_not_numbers", "cells that are not numbers skipped (train/approx_kl: 1)", {2048: 0.01, 6144: None}),
    ("csv_incomplete_line", "@ byte 101: incomplete last line: 8 bytes skipped", {2048: 0.01, 4096: 0.02, 6144: 0.03}),
]


@pytest.mark.parametrize("case, note, points", CSV_NOTE_CASES, ids=[c[0] for c in CSV_NOTE_CASES])
def test_progress_csv_rows_and_cells_that_are_not_data(tmp_path, case, note, points):
    """A step of inf or 1e30 must not become some int64, "abc" must not become a NaN,
    and a row SB3 is still writing ("8192,0.0" of "8192,0.034,...") must not be read."""
    run = shutil.copytree(BAD / "runs" / case, tmp_path / case)
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    separator = " " if note.startswith("@") else ": "
    assert f"lrdoctor: read problem: {run / 'progress.csv'}{separator}{note}" in result.stderr.splitlines()
    (kl,) = [r.metrics["kl"] for r in ingest.load(run, use_cache=False).runs]
    read = {step: (None if value != value else value) for step, value in kl.items()}
    assert read == points


def test_progress_csv_over_the_size_limit_is_not_read(tmp_path):
    from lrdoctor.read.progress_csv import MAX_CSV_BYTES

    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / "progress.csv", "wb") as handle:
        handle.truncate(MAX_CSV_BYTES + 1)  # sparse: no disk used, nothing read
    result = analyze(tmp_path / "run")
    assert result.exit_code == 2
    assert f"{MAX_CSV_BYTES + 1:,} bytes is over the {MAX_CSV_BYTES:,}-byte limit for a progress.csv" in result.stderr


@pytest.mark.parametrize(
    "case, name, reason",
    [
        (
            "config_malformed",
            "config.yaml",
            "malformed config at line 3, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        ("config_nested", "config.json", "config not read: nested too deeply"),
        ("config_latin1", "config.yaml", "config not read: not UTF-8 text"),
    ],
)
def test_unusable_config_beside_a_run_is_a_note(tmp_path, case, name, reason):
    run = tmp_path / case
    if case == "config_latin1":
        run.mkdir()
        shutil.copy(BAD / "configs" / "latin1.yaml", run / name)
    else:
        shutil.copytree(BAD / "runs" / case, run)
    good_run(run)
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert f"lrdoctor: read problem: {run / name}: {reason}" in result.stderr.splitlines()
    assert json.loads(result.stdout)["runs"][0]["architecture"]["kind"] == "unknown"


def test_alias_bomb_beside_a_run_is_read_no_further_than_its_bound(tmp_path):
    run = good_run(tmp_path / "run")
    shutil.copy(BAD / "configs" / "alias_bomb.yaml", run / "config.yaml")
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert json.loads(result.stdout)["runs"][0]["architecture"]["kind"] == "unknown"


def test_config_beside_a_run_over_the_size_limit_is_not_read(tmp_path):
    from lrdoctor.configs.loaders import MAX_BYTES as MAX_CONFIG_BYTES

    run = good_run(tmp_path / "run")
    (run / "config.yaml").write_text("a: 1\n" * (MAX_CONFIG_BYTES // 5 + 1))
    size = (run / "config.yaml").stat().st_size
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    expected = f"config not read: {size:,} bytes is over the {MAX_CONFIG_BYTES:,}-byte limit"
    assert f"lrdoctor: read problem: {run / 'config.yaml'}: {expected}" in result.stderr.splitlines()


def test_analyze_never_runs_code_from_a_config_beside_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = good_run(tmp_path / "run")
    shutil.copy(BAD / "configs" / "python_tags.yaml", run / "config.yaml")
    shutil.copy(BAD / "configs" / "zoo_policy_kwargs_code.yml", run / "config.yml")
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert not (tmp_path / "lrdoctor-was-pwned").exists()


# --- analyze: memory -------------------------------------------------------------------
#
# Each hostile file is made here, streamed to disk (the test never holds it), and analyzed
# in a child process whose peak resident memory is compared with the same child on a small
# run. Before the caps these took +970 MB (a 150 MB text summary), +1,330 MB (a 200 MB
# progress.csv header) and +420 MB (3M empty records) over that; the bound leaves room.

HEADROOM_MB = 250


def masked_crc(data: bytes, crc: int = 0) -> int:
    import crc32c

    crc = crc32c.crc32c(data, crc)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def length_delimited(number: int, size: int) -> bytes:
    """The key and length of a length-delimited protobuf field of ``size`` bytes."""
    return varint(number << 3 | 2) + varint(size)


def write_text_summary(path: Path, tag: str, size: int, step: int = 0) -> None:
    """One Event{step, summary{value{tag, tensor{dtype: DT_STRING, string_val: "x" * size},
    metadata{plugin_data{plugin_name: "text"}}}}} record, as add_text writes it, streamed."""
    import crc32c

    metadata = length_delimited(1, 6) + length_delimited(1, 4) + b"text"
    tensor_head = varint(1 << 3 | 0) + varint(7) + length_delimited(8, size)
    tensor_size = len(tensor_head) + size
    value_head = length_delimited(1, len(tag.encode())) + tag.encode() + length_delimited(8, tensor_size) + tensor_head
    value_size = len(value_head) + size + len(metadata) + len(length_delimited(9, len(metadata)))
    head = varint(2 << 3 | 0) + varint(step) + length_delimited(5, len(length_delimited(1, value_size)) + value_size)
    head += length_delimited(1, value_size) + value_head
    tail = length_delimited(9, len(metadata)) + metadata
    length = struct.pack("<Q", len(head) + size + len(tail))
    crc = crc32c.crc32c(head)
    with open(path, "ab") as out:
        out.write(length + struct.pack("<I", masked_crc(length)) + head)
        for left in range(size, 0, -(1 << 20)):
            chunk = b"x" * min(left, 1 << 20)
            crc = crc32c.crc32c(chunk, crc)
            out.write(chunk)
        crc = crc32c.crc32c(tail, crc)
        out.write(tail + struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF))


def baseline_mb(tmp_path: Path) -> float:
    done, peak = peak_rss_mb("analyze", good_run(tmp_path / "baseline"), "--jobs", "1", "--no-cache")
    assert done.returncode in (0, 1), done.stderr
    return peak


def test_a_huge_text_summary_is_cut_while_it_is_read(tmp_path):
    run = good_run(tmp_path / "run")
    (event_file,) = run.glob("events.out.tfevents.*")
    offset = event_file.stat().st_size
    write_text_summary(event_file, "hyperparameters/text_summary", 150_000_000)
    before = contents(run)
    done, peak = peak_rss_mb("analyze", run, "--format", "json", "--jobs", "1")  # with the cache
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr.splitlines()[0] == (
        f"lrdoctor: read problem: {event_file} @ byte {offset}: text summary hyperparameters/text_summary cut to "
        "its first 65,536 characters (it holds 150,000,000 bytes)"
    )
    assert json.loads(done.stdout)["runs"][0]["metrics"]["kl"]["points"] == 20  # the scalars are all there
    assert peak < baseline_mb(tmp_path) + HEADROOM_MB
    cache = tmp_path / "cache"
    assert sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) < 2_000_000  # no large text kept
    assert contents(run) == before


def test_a_huge_progress_csv_header_is_a_clear_note(tmp_path):
    (tmp_path / "run").mkdir()
    progress = tmp_path / "run" / "progress.csv"
    with open(progress, "w") as out:
        out.write("time/total_timesteps,train/approx_kl,")
        for _ in range(200):
            out.write("x" * 1_000_000)
        out.write("\n1,0.01,3\n")
    before = contents(tmp_path / "run")
    done, peak = peak_rss_mb("analyze", tmp_path / "run", "--jobs", "1")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"lrdoctor: read problem: {tmp_path / 'run'}: unreadable run: {progress}: header row longer than "
        "1,048,576 bytes: not an SB3 progress.csv",
        f"lrdoctor: error: no readable run under {tmp_path / 'run'} "
        "(looked for events.out.tfevents.*, progress.csv, result.json, W&B and MLflow runs)",
    ]
    assert peak < baseline_mb(tmp_path) + HEADROOM_MB
    assert contents(tmp_path / "run") == before


def test_millions_of_empty_records_stay_within_the_bound(tmp_path):
    run = good_run(tmp_path / "run")
    (event_file,) = run.glob("events.out.tfevents.*")
    length = struct.pack("<Q", 0)
    empty = length + struct.pack("<I", masked_crc(length)) + struct.pack("<I", masked_crc(b""))
    with open(event_file, "ab") as out:
        for _ in range(30):
            out.write(empty * 100_000)
    before = contents(run)
    done, peak = peak_rss_mb("analyze", run, "--format", "json", "--jobs", "1", "--no-cache")
    assert done.returncode in (0, 1), done.stderr
    assert "read problem" not in done.stderr  # an empty Event is a valid record: nothing to say
    assert json.loads(done.stdout)["runs"][0]["metrics"]["kl"]["points"] == 20
    assert peak < baseline_mb(tmp_path) + HEADROOM_MB
    assert contents(run) == before


def test_a_progress_csv_line_over_the_cap_is_skipped_and_noted(tmp_path):
    (tmp_path / "run").mkdir()
    progress = tmp_path / "run" / "progress.csv"
    header = "time/total_timesteps,train/approx_kl\n"
    progress.write_text(header + "2048,0.01\n4096," + "9" * 2_000_000 + "\n6144,0.03\n")
    before = contents(tmp_path / "run")
    result = analyze(tmp_path / "run", "--format", "json")
    assert result.exit_code in (0, 1)
    offset = len(header) + len("2048,0.01\n")
    assert f"lrdoctor: read problem: {progress} @ byte {offset}: 1 line longer than 1,048,576 bytes skipped" in (
        result.stderr.splitlines())
    assert json.loads(result.stdout)["runs"][0]["metrics"]["kl"]["points"] == 2
    assert contents(tmp_path / "run") == before


# --- analyze: odd data -----------------------------------------------------------------


def read_problems(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("lrdoctor: read problem: ")]


def event_file_at(directory: Path, started: int, steps, kl) -> Path:
    """An SB3 event file named as if started at Unix time ``started`` (its write order)."""
    written = write_tags(directory, steps, {"train/approx_kl": kl, "train/learning_rate": [3e-4] * len(steps)})
    return written.rename(directory / f"events.out.tfevents.{started}.host")


def test_overlapping_restarts_say_which_file_won(tmp_path):
    run = tmp_path / "run"
    first = event_file_at(run, 1_700_000_000, range(0, 10_000, 1000), [0.01] * 10)
    resumed = event_file_at(run, 1_700_000_500, range(6000, 12_000, 1000), [0.012] * 6)
    before = contents(run)
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert read_problems(result) == [
        f"lrdoctor: read problem: {first}: overlaps {resumed}, which resumes at step 6,000: the later file is "
        "used from there (8 points of this one dropped)"
    ]
    assert json.loads(result.stdout)["runs"][0]["metrics"]["kl"]["points"] == 12
    assert contents(run) == before


def test_steps_going_backwards_and_repeated_within_one_file(tmp_path):
    run = tmp_path / "run"
    written = event_file_at(run, 1_700_000_000, [0, 1000, 2000, 1000, 2000, 3000], [0.01, 0.01, 0.01, 0.5, 0.5, 0.01])
    before = contents(run)
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1)
    assert read_problems(result) == [
        f"lrdoctor: read problem: {written}: steps go backwards in 2 of 2 tags (first train/approx_kl: 1,000 "
        "after 2,000); points are used in step order",
        f"lrdoctor: read problem: {written}: 4 repeated steps in 2 of 2 tags (first train/approx_kl); the value "
        "written last is used",
    ]
    (report,) = json.loads(result.stdout)["runs"]
    assert report["metrics"]["kl"]["points"] == 4
    assert contents(run) == before


def test_progress_csv_repeated_columns_are_noted(tmp_path):
    (tmp_path / "run").mkdir()
    progress = tmp_path / "run" / "progress.csv"
    progress.write_text("time/total_timesteps,train/approx_kl,train/approx_kl\n2048,0.01,0.5\n4096,0.02,0.6\n")
    before = contents(tmp_path / "run")
    result = analyze(tmp_path / "run", "--format", "json")
    assert result.exit_code in (0, 1)
    assert read_problems(result) == [
        f"lrdoctor: read problem: {progress}: repeated column names: train/approx_kl (2 times); the first "
        "column of each name is read"
    ]
    (kl,) = [r.metrics["kl"] for r in ingest.load(tmp_path / "run", use_cache=False).runs]
    assert dict(kl.items()) == {2048: 0.01, 4096: 0.02}
    assert contents(tmp_path / "run") == before


def test_a_negative_or_nan_learning_rate_is_an_error(tmp_path):
    """Once passed in silence: a decay computed past its end logs a negative LR (gradient ascent)."""
    run = tmp_path / "run"
    lr = [3e-4] * 8 + [float("nan")] + [-1e-6, -2e-6, -3e-6]
    written = write_tags(run, range(0, 12_000, 1000), {"train/learning_rate": lr, "train/approx_kl": [0.01] * 12})
    before = contents(run)
    result = analyze(run, "--format", "json")
    assert result.exit_code == 1
    messages = [f["message"] for f in json.loads(result.stdout)["runs"][0]["findings"] if f["code"] == "LRD007"]
    assert messages == [
        "LR (train/learning_rate) is non-finite from step 8K: 1 value (NaN)",
        "LR (train/learning_rate) is negative from step 9K: 3 values, down to -3e-06",
    ]
    assert contents(run) == before and written.exists()


def test_a_config_beside_a_run_over_a_reading_budget_is_a_note_not_an_unreadable_run(tmp_path):
    run = good_run(tmp_path / "run")
    (run / "config.yml").write_text('policy: MlpLstmPolicy\npolicy_kwargs: "dict(net_arch=' + "-" * 3000 + ')"\n')
    before = contents(run)
    result = analyze(run, "--format", "json")
    assert result.exit_code in (0, 1) and json.loads(result.stdout)["runs"]
    assert any("malformed config" in line and "policy_kwargs is longer than 2,000 characters" in line
               for line in result.stderr.splitlines())
    assert contents(run) == before


def test_a_progress_csv_with_cr_only_line_endings_is_read(tmp_path):
    from writers import write_progress_csv

    run = tmp_path / "PPO_1"
    write_progress_csv(run, [2048 * (i + 1) for i in range(20)], {"kl": [0.01] * 20, "lr": [3e-4] * 20})
    csv = run / "progress.csv"
    lf = json.loads(analyze(run, "--format", "json", "--no-cache").stdout)["runs"][0]["metrics"]
    csv.write_bytes(csv.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    before = contents(run)
    result = analyze(run, "--format", "json", "--no-cache")
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["runs"][0]["metrics"] == lf  # as read with LF endings
    assert contents(run) == before
