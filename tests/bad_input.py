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
    HOSTILE_TEXT             every class of untrusted text: ESC, CR/LF, ``::``, ``%``, HTML,
                             Markdown, bidi and zero-width characters (a valid file name)
    hostile_run(into)        a run named ``run<HOSTILE_TEXT>`` under ``into``, logging a tag of
                             that name, beside a config whose architecture is named so
    hostile_configs(into)    configs to ``check``: a zoo file and its unit named HOSTILE_TEXT,
                             and a trainer config whose architecture is named so
    assert_shown_safely(text)   no character of HOSTILE_TEXT that moves, hides or injects
                             reached ``text`` raw
    tree(root)               every entry below ``root`` with its mode, size, mtime and hash
    AS_ROOT                  whether the tests run as root (only root can give a file away)
    writable_by_others(path) ``path`` made group-writable, as a shared folder's file may be
    give_to_another_user(path)   ``path`` owned by another user id (root only)
    rewrite_scalar(path, tag, step, value)   one record rewritten in place, CRCs valid
    append_scalar(path, tag, step, value)    one valid record appended
    contents(*roots)         every file's bytes and every link's target under ``roots``: taken
                             before and after a command, the two must be equal (inputs untouched)
    in_subprocess(*args, timeout=60)   ``lrdoctor …`` in a child with 2 GB of address space;
                             None when it does not end in time (a hang fails the test, not the suite)
    peak_rss_mb(*args)       (result, peak resident memory in MB) of ``lrdoctor …`` in a child
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
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


# ESC and a CSI sequence, CR/LF then a fake annotation, a %-escape GitHub would decode, HTML,
# Markdown (a table pipe, a code span, a link), a right-to-left override that reverses
# "exe.png", an isolate, and zero-width characters (space, joiner, word joiner, BOM).
# No "/": it is also a directory's name.
HOSTILE_TEXT = (
    "x\x1b[31m\r\n::error file=a.py::pwn 100%0A <script>alert(1)<img src=x onerror=alert(2)>"
    " |`c`| [l](javascript:alert(3)) \u202egnp.exe\u2069 z\u200bw\u200d\u2060\ufeff"
)
UNSHOWN = "\x1b\r\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff"


def hostile_run(into: Path) -> Path:
    """SYNTHETIC: a GRU run at a constant LR whose directory, one tag and the architecture
    name in its config are all HOSTILE_TEXT."""
    from writers import write_tags_verbatim

    run = into / ("run" + HOSTILE_TEXT)
    steps = range(0, 40 * 2048, 2048)
    write_tags_verbatim(run, steps, {
        "train/approx_kl": [0.05] * 40, "train/learning_rate": [3e-4] * 40,
        "train/entropy_loss": [-1.0] * 40, HOSTILE_TEXT: [1.0] * 40,
    })
    (run / "config.json").write_text(json.dumps({"architecture": HOSTILE_TEXT, "rnn_type": "gru"}))
    return run


def hostile_configs(into: Path) -> Path:
    """A zoo file (named, and with its unit named, HOSTILE_TEXT) and a trainer config whose
    architecture is HOSTILE_TEXT, both recurrent at a constant LR."""
    into.mkdir(parents=True, exist_ok=True)
    zoo = {HOSTILE_TEXT: {"policy": "MlpLstmPolicy", "learning_rate": 3e-4, "n_timesteps": 1e6}}
    (into / f"zoo{HOSTILE_TEXT}.yml").write_text(json.dumps(zoo))
    trainer = {"model": {"architecture": HOSTILE_TEXT, "rnn_type": "gru"}, "learning_rate": 3e-4}
    (into / "trainer.yaml").write_text(json.dumps(trainer))
    return into


def assert_shown_safely(text: str) -> None:
    raw = sorted({f"U+{ord(c):04X}" for c in text if c in UNSHOWN})
    assert not raw, f"raw {raw} in {text!r}"
    assert not any(line.startswith("::error file=a.py") for line in text.split("\n")), text
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def writable_by_others(path: Path) -> None:
    path.chmod(0o620)


def give_to_another_user(path: Path) -> None:
    os.chown(path, os.geteuid() + 1, os.getegid())


def tree(root: Path) -> dict[str, tuple]:
    """Every entry below ``root`` with what would show a write: mode, size, mtime, content hash."""
    snapshot = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else None
        snapshot[path.relative_to(root).as_posix()] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return snapshot


def _records(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each TFRecord: length (8), its CRC (4), payload, payload CRC (4)."""
    spans, offset = [], 0
    while offset + 12 <= len(data):
        end = offset + 16 + struct.unpack_from("<Q", data, offset)[0]
        spans.append((offset, end))
        offset = end
    return spans


def _framed(payload: bytes) -> bytes:
    from lrdoctor.read.events import masked_crc

    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


def rewrite_scalar(path: Path, tag: str, step: int, value: float) -> tuple[int, int]:
    """Give ``tag`` at ``step`` a new value, in place, the record's length and CRCs valid:
    a file rewritten (re-synced, regenerated), not damaged. Returns the record's span."""
    from tensorboard.compat.proto import event_pb2

    data = bytearray(path.read_bytes())
    for start, end in _records(bytes(data)):
        event = event_pb2.Event.FromString(bytes(data[start + 12:end - 4]))
        if event.step == step and [v.tag for v in event.summary.value] == [tag]:
            event.summary.value[0].simple_value = value
            record = _framed(event.SerializeToString())
            assert len(record) == end - start
            data[start:end] = record
            with open(path, "r+b") as handle:  # the same file (inode), as an in-place rewrite keeps it
                handle.write(bytes(data))
            return start, end
    raise AssertionError(f"no {tag} record at step {step} in {path}")


def append_scalar(path: Path, tag: str, step: int, value: float) -> None:
    """Append one valid scalar record, as the writer of a live run does."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    event = event_pb2.Event(wall_time=1.0, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))
    with open(path, "ab") as handle:
        handle.write(_framed(event.SerializeToString()))


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
