"""Test helpers for the bad-input tests: what bad input gets, through the real CLI.

The rows of docs/bad-input.md are checked stage by stage (tests/read/, configs and
check, rules options, report writes, cli, live/watch); each file runs ``lrdoctor``
through typer's CliRunner with these helpers. Inputs come from tests/bad_inputs/
and tests/event_corpus/; good runs beside them are SYNTHETIC (tests/writers.py).

API:
    private_cache            autouse fixture: LRDOCTOR_CACHE_DIR in tmp_path. A module
                             turns it on for its tests by importing it.
    runner                   the CliRunner
    lrdoctor(*args)          one CLI call; fails on a traceback or an unexpected exception
    analyze(*args)           ``lrdoctor analyze … --jobs 1``
    error_line(result)       the one ``lrdoctor: error: `` line that ends stderr
    corpus_run(case, into)   a copy of a damaged run from tests/event_corpus/
    EVENT_CASES              each event_corpus case: its read problem and surviving points
    HOSTILE_NAME             a file name with a newline, a workflow command and an escape
    assert_no_injected_line(text)   none of HOSTILE_NAME reached ``text`` raw
    contents(*roots)         every file's bytes and every link's target under ``roots``: taken
                             before and after a command, the two must be equal (inputs untouched)
    in_subprocess(*args, timeout=60)   ``lrdoctor …`` in a child with 2 GB of address space;
                             None when it does not end in time (a hang fails the test, not the suite)
    peak_rss_mb(*args)       (result, peak resident memory in MB) of ``lrdoctor …`` in a child
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app

EVENT_CORPUS = Path(__file__).resolve().parent / "event_corpus"

runner = CliRunner()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def lrdoctor(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def analyze(*args):
    return lrdoctor("analyze", *args, "--jobs", "1")


def error_line(result) -> str:
    """The last stderr line, which must be the one error line of an exit-2 result."""
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("lrdoctor: error: "), result.stderr
    return lines[-1]


def corpus_run(case: str, into: Path) -> Path:
    shutil.copytree(EVENT_CORPUS / case, into)
    return into


EVENT_CASES = [
    # case, the read problem after the file name, points of the 15 written that survive
    ("truncated_tail", "@ byte 538: incomplete last record: 25 bytes skipped (file still being written?)", 9),
    ("bad_payload_crc", "@ byte 254: corrupt record (CRC mismatch); record skipped", 14),
    ("bad_length_crc", "@ byte 369: corrupt record length (CRC mismatch); rest of file skipped", 6),
    ("absurd_length", "@ byte 876: incomplete last record: 112 bytes skipped (file still being written?)", 15),
    ("garbage_after_records", "@ byte 876: corrupt record length (CRC mismatch); rest of file skipped", 15),
    ("crc_ok_not_an_event", "@ byte 200: record is not a valid Event (CRC correct); record skipped", 15),
    ("random_bytes", "@ byte 0: corrupt record length (CRC mismatch); rest of file skipped", 0),
    ("empty", "@ byte 0: empty event file: nothing written yet", 0),
]

HOSTILE_NAME = "run\n::error file=train.py::injected\x1b[31m"


def assert_no_injected_line(text: str) -> None:
    assert "\x1b" not in text
    assert not any(line.startswith("::") for line in text.splitlines()), text


def contents(*roots: Path) -> dict[str, object]:
    """What lrdoctor must leave as it found it: each regular file's bytes (as a SHA-256, so a
    file of hundreds of MB costs no memory), each link's target (never followed: a link may
    lead into /proc), and the kind of anything else (a FIFO is not opened)."""
    found: dict[str, object] = {}
    for root in roots:
        for directory, subdirectories, files in os.walk(root):
            for name in subdirectories + files:
                path = os.path.join(directory, name)
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    found[path] = ("link", os.readlink(path))
                elif stat.S_ISREG(mode):
                    with open(path, "rb") as handle:
                        found[path] = hashlib.file_digest(handle, "sha256").hexdigest()
                elif not stat.S_ISDIR(mode):
                    found[path] = ("special", stat.S_IFMT(mode))
    return found


def in_subprocess(*args, timeout: float = 60) -> subprocess.CompletedProcess | None:
    def limit_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    command = [sys.executable, "-m", "lrdoctor", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, preexec_fn=limit_memory,
                              env=env)
    except subprocess.TimeoutExpired:
        return None


_MEASURED = """
import resource, sys
from lrdoctor.cli import app
try:
    app(sys.argv[1:])
    code = 0
except SystemExit as done:
    code = done.code
print(f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def peak_rss_mb(*args) -> tuple[subprocess.CompletedProcess, float]:
    """``lrdoctor …`` in a child process of its own (so no other run's peak counts), and the
    child's peak resident memory. ``analyze`` should get ``--jobs 1``: workers are not counted."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _MEASURED, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)
    *rest, last = done.stderr.splitlines()
    assert last.startswith("maxrss "), done.stderr
    done.stderr = "".join(line + "\n" for line in rest)
    return done, int(last.split()[1]) / 1024
