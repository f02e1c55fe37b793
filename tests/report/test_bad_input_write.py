"""What bad output targets get, through the real CLI (docs/bad-input.md).

An ``--output`` that is a directory, ``--plots`` into a file, or a report over a
training log is one ``lrdoctor: error:`` line and exit 2; no command writes inside
what it reads, whatever the name; a failed or interrupted write leaves the previous
file whole and no partial one. Devices, FIFOs, links and ``-`` get what the table
"Where outputs go" says: written through, to stdout, or refused, never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from bad_input import (
    analyze,
    error_line,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
    tree,
)

from lrdoctor.read import cache

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


# --- analyze: --output and --plots targets ----------------------------------------------


def test_output_that_is_a_directory(tmp_path):
    (tmp_path / "out").mkdir()
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--format", "json", "--output", tmp_path / "out")
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {tmp_path / 'out'}: Is a directory"
    assert not list((tmp_path / "out").iterdir())
    assert not list(tmp_path.glob(".out.*.tmp"))  # the temporary file is gone too


def test_plots_into_a_path_that_is_a_file(tmp_path):
    (tmp_path / "figs").write_text("not a directory")
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--plots", tmp_path / "figs", "--format", "json")
    assert result.exit_code == 2
    assert error_line(result).startswith(f"lrdoctor: error: {tmp_path / 'figs'}: not a directory, cannot write ")


# --- outputs: never into the inputs, always whole ---------------------------------------


def test_no_command_writes_into_the_directories_it_reads(tmp_path, monkeypatch):
    logs = shutil.copytree(SAMPLES, tmp_path / "logs")
    before = tree(logs)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = tmp_path / "out" / "report.md"
    assert analyze(logs, "--format", "markdown", "--output", report, "--plots", tmp_path / "figs").exit_code in (0, 1)
    # again, served from the cache (LRDOCTOR_CACHE_DIR, outside logs)
    assert analyze(logs, "--format", "json", "--output", report.with_suffix(".json")).exit_code in (0, 1)
    assert lrdoctor("check", logs).exit_code in (0, 1)
    run = logs / "graph_free_gru_constant_lr"
    assert lrdoctor("plot-schedule", "--run", run, "--out", tmp_path / "schedule.png").exit_code == 0
    assert tree(logs) == before
    assert list(elsewhere.iterdir()) == []
    assert report.stat().st_size > 0 and list((tmp_path / "figs").glob("*.png"))


@pytest.mark.parametrize("command", ["analyze", "check", "plot-schedule"])
@pytest.mark.parametrize("log", ["events.out.tfevents.1718000000.synthetic.0.0", "progress.csv"])
def test_no_command_writes_its_report_over_a_training_log(tmp_path, command, log):
    logs = shutil.copytree(SAMPLES, tmp_path / "logs")
    target = logs / ("sb3_recurrentppo_cartpole/RecurrentPPO_1" if log == "progress.csv" else "graph_free_gru_constant_lr") / log
    assert target.exists()
    before = tree(logs)
    args = {
        "analyze": ["analyze", logs / "graph_free_gru_constant_lr", "--format", "json", "--jobs", "1"],
        "check": ["check", logs / "graph_free_gru_constant_lr" / "config.json"],
        "plot-schedule": ["plot-schedule", "--format", "csv"],
    }[command]
    result = lrdoctor(*args, "--output", target)
    assert result.exit_code == 2
    assert error_line(result) == (
        f"lrdoctor: error: {target}: a training log (event file or progress.csv); lrdoctor never writes over one"
    )
    assert tree(logs) == before


def test_the_report_path_is_printed_as_text_not_markup(tmp_path):
    report = tmp_path / "[bold]report[/bold].json"
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--format", "json", "--output", report)
    assert f"wrote {report}\n" in result.stderr and report.exists()
    result = lrdoctor("plot-schedule", "--format", "csv", "--output", report.with_suffix(".csv"))
    assert result.stderr == f"wrote {report.with_suffix('.csv')}\n"


def test_a_failed_report_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    report = tmp_path / "report.json"
    report.write_text("previous report\n")

    def disk_full(source, target):
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr("lrdoctor.write.os.replace", disk_full)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--format", "json", "--output", report)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {report}: No space left on device"
    assert report.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["report.json"]


def test_an_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from lrdoctor.write import write_atomic

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr("lrdoctor.write.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "figure.png", b"\x89PNG" + bytes(1000))
    assert list(tmp_path.iterdir()) == []


# --- what is at the target decides how it is written (issue 14) -------------------------


@contextmanager
def untouched(root: Path):
    """Whatever the command does, every file under ``root`` is byte-identical afterwards."""
    before = tree(root)
    yield
    assert tree(root) == before


@pytest.fixture
def logs(tmp_path):
    return shutil.copytree(SAMPLES, tmp_path / "logs")


def system(tmp_path: Path, name: str) -> Path:
    """``/dev/<name>``; as root, a node of the same device (or the same link) in ``tmp_path``
    instead. A regression that replaced its target would, as root, replace the machine's
    /dev/null -- as the code before these tests did -- and only a copy here."""
    real = Path("/dev") / name
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return real  # /dev is not writable: a regression fails here, and harms nothing
    copy = tmp_path / "dev" / name
    copy.parent.mkdir(exist_ok=True)
    info = os.lstat(real)
    if stat.S_ISLNK(info.st_mode):
        copy.symlink_to(os.readlink(real))
    else:
        os.mknod(copy, info.st_mode, info.st_rdev)
    return copy


def commands(logs: Path) -> dict[str, tuple[list, int]]:
    """Each command that writes a report, with the exit code its report gives."""
    run = logs / "graph_free_gru_constant_lr"
    return {
        "analyze": (["analyze", run, "--format", "json", "--jobs", "1"], 1),
        "check": (["check", run / "config.json"], 1),
        "plot-schedule": (["plot-schedule", "--format", "csv"], 0),
    }


@pytest.mark.parametrize("command", ["analyze", "check", "plot-schedule"])
def test_dev_null_is_written_through_like_shell_redirection(logs, tmp_path, command):
    args, code = commands(logs)[command]
    null = system(tmp_path, "null")
    device = os.lstat(null)
    with untouched(logs):
        result = lrdoctor(*args, "--output", null)
    assert result.exit_code == code and "lrdoctor: error" not in result.stderr
    assert result.stdout == ""
    now = os.lstat(null)  # still the device, not a file put in its place
    assert stat.S_ISCHR(now.st_mode) and (now.st_ino, now.st_rdev) == (device.st_ino, device.st_rdev)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("command", ["analyze", "check", "plot-schedule"])
def test_a_full_device_is_named_in_the_error(logs, tmp_path, command):
    args, _ = commands(logs)[command]
    full = system(tmp_path, "full")
    with untouched(logs):
        result = lrdoctor(*args, "--output", full)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {full}: No space left on device"
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_a_write_that_fails_names_the_path(tmp_path, monkeypatch):
    """ENOSPC from a write or a rename carries no file name: the error line gives it."""
    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lrdoctor.write.os.replace", disk_full)
    report = tmp_path / "report.json"
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--format", "json", "--output", report)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {report}: No space left on device"
    assert not report.exists()


@pytest.mark.parametrize("command", ["analyze", "analyze-text", "check", "plot-schedule"])
@pytest.mark.parametrize("target", ["-", "/dev/stdout"])
def test_dash_and_dev_stdout_are_stdout(logs, tmp_path, monkeypatch, command, target):
    monkeypatch.chdir(tmp_path)
    if target != "-":
        target = system(tmp_path, "stdout")  # a link to /proc/self/fd/1
    args, code = commands(logs)["analyze" if command == "analyze-text" else command]
    if command == "analyze-text":
        args = [a for a in args if a not in ("--format", "json")]
    with untouched(logs):
        plain = lrdoctor(*args)
        to_file = lrdoctor(*args, "--output", tmp_path / "report")
        result = lrdoctor(*args, "--output", target)
    assert result.exit_code == plain.exit_code == to_file.exit_code == code
    # "-" is stdout as if there were no -o; /dev/stdout gets what a file gets (for text, unpadded)
    expected = plain.stdout if target == "-" else (tmp_path / "report").read_text()
    assert result.stdout == expected and len(result.stdout) > 50
    assert not (tmp_path / "-").exists() and not (tmp_path / "logs" / "-").exists()


def test_a_fifo_with_a_reader_is_written_through(logs, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before lrdoctor opens it
    held = os.open(fifo, os.O_WRONLY)  # and reads no end of file until lrdoctor has written
    os.set_blocking(read_end, True)
    chunks: list[bytes] = []

    def read_all() -> None:
        while chunk := os.read(read_end, 1 << 16):
            chunks.append(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    args, code = commands(logs)["analyze"]
    try:
        with untouched(logs):
            result = lrdoctor(*args, "--output", fifo)
    finally:
        os.close(held)
        reader.join(10)
        os.close(read_end)
    assert result.exit_code == code and f"wrote {fifo}" in result.stderr
    assert json.loads(b"".join(chunks))["runs"] and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_fifo_nobody_reads_is_refused_not_waited_on(logs, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    args, _ = commands(logs)["analyze"]
    with untouched(logs):
        result = lrdoctor(*args, "--output", fifo)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {fifo}: a FIFO that no process is reading; lrdoctor does not wait for one"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("points_to", ["a file elsewhere", "nothing", "the run's config"])
def test_a_symlink_is_neither_written_through_to_a_file_nor_replaced(logs, tmp_path, points_to):
    """A link left in a shared output directory could point at /etc/passwd."""
    precious = tmp_path / "precious.txt"
    precious.write_text("a user's file\n")
    run = logs / "graph_free_gru_constant_lr"
    target = {"a file elsewhere": precious, "nothing": tmp_path / "nowhere", "the run's config": run / "config.json"}[points_to]
    link = tmp_path / "out" / "report.json"
    link.parent.mkdir()
    link.symlink_to(target)
    args, _ = commands(logs)["analyze"]
    with untouched(logs):
        result = lrdoctor(*args, "--output", link)
    assert result.exit_code == 2
    expected = (
        f"{link}: inside {run}, which lrdoctor is reading; it never writes into its inputs"
        if points_to == "the run's config"
        else f"{link}: a symbolic link to {target}; lrdoctor neither writes through a link to a file nor replaces it"
        " (name the file itself)"
    )
    assert error_line(result) == f"lrdoctor: error: {expected}"
    assert os.readlink(link) == str(target) and precious.read_text() == "a user's file\n"
    assert sorted(p.name for p in link.parent.iterdir()) == ["report.json"]


def test_a_symlink_to_dev_null_is_written_through_and_kept(logs, tmp_path):
    link = tmp_path / "report.json"
    null = system(tmp_path, "null")
    link.symlink_to(null)
    args, code = commands(logs)["analyze"]
    with untouched(logs):
        result = lrdoctor(*args, "--output", link)
    assert result.exit_code == code and os.readlink(link) == str(null) and stat.S_ISCHR(os.lstat(null).st_mode)


def block_device(tmp_path: Path) -> Path:
    """A block device node of an unused number: even a wrong write could reach no disk."""
    path = tmp_path / "disk"
    try:
        os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(240, 255))  # 240-254: local/experimental
    except (OSError, AttributeError):
        pytest.skip("cannot make a device node here (needs root)")
    return path


def unix_socket(tmp_path: Path) -> Path:
    path = tmp_path / "report.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


@pytest.mark.parametrize("kind, make, reason", [
    ("char", lambda tmp: system(tmp, "random"), "a device other than /dev/null, /dev/zero, /dev/full or this terminal; not written"),
    ("block", block_device, "a block device (a disk); lrdoctor never writes to one"),
    ("socket", unix_socket, "a socket; lrdoctor writes files, FIFOs, /dev/null and terminals"),
])
def test_devices_and_sockets_a_report_does_not_go_to_are_refused(logs, tmp_path, kind, make, reason):
    target = make(tmp_path)
    before = os.lstat(target)
    args, _ = commands(logs)["analyze"]
    with untouched(logs):
        result = lrdoctor(*args, "--output", target)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {target}: {reason}"
    assert (os.lstat(target).st_mode, os.lstat(target).st_ino) == (before.st_mode, before.st_ino)


def inside_cases(logs: Path, tmp_path: Path) -> dict[str, tuple[list, str]]:
    """Outputs inside what a command reads, whatever their names, with the refusal each gets."""
    run = logs / "graph_free_gru_constant_lr"
    (tmp_path / "linked").symlink_to(run)  # a directory outside that leads into the run
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "run1").symlink_to(run)  # a run reached through a link
    inside = "which lrdoctor is reading; it never writes into its inputs"
    over = "an input lrdoctor is reading; it never writes over its inputs"
    return {
        "the run's config": (["analyze", run, "-o", run / "config.json"], f"{run / 'config.json'}: inside {run}, {inside}"),
        "a new file in the run": (["analyze", run, "-o", run / "report.json"], f"{run / 'report.json'}: inside {run}, {inside}"),
        "a new directory in the tree": (["analyze", logs, "-o", logs / "new" / "r.json"], f"{logs / 'new' / 'r.json'}: inside {logs}, {inside}"),
        "figures in the run": (["analyze", run, "--plots", run / "figs"], f"{run / 'figs'}: inside {run}, {inside}"),
        "figures over the tree": (["analyze", logs, "--plots", logs], f"{logs}: {over}"),
        "through a linked directory": (["analyze", run, "-o", tmp_path / "linked" / "r.json"], f"{tmp_path / 'linked' / 'r.json'}: inside {run}, {inside}"),
        "into a run reached by a link": (["analyze", tmp_path / "sweep", "-o", run / "config.json"], f"{run / 'config.json'}: inside {tmp_path / 'sweep' / 'run1'}, {inside}"),
        "check over its config": (["check", run / "config.json", "-o", run / "config.json"], f"{run / 'config.json'}: {over}"),
        "check into its directory": (["check", logs, "-o", logs / "report.sarif"], f"{logs / 'report.sarif'}: inside {logs}, {inside}"),
        "a schedule figure in the run": (["plot-schedule", "--run", run, "--out", run / "s.png"], f"{run / 's.png'}: inside {run}, {inside}"),
        "a schedule table in the run": (["plot-schedule", "--run", run, "--out", tmp_path / "s.png", "-f", "csv", "-o", run / "s.csv"], f"{run / 's.csv'}: inside {run}, {inside}"),
    }


CASES_INSIDE = [
    "the run's config", "a new file in the run", "a new directory in the tree", "figures in the run",
    "figures over the tree", "through a linked directory", "into a run reached by a link", "check over its config",
    "check into its directory", "a schedule figure in the run", "a schedule table in the run",
]


@pytest.mark.parametrize("case", CASES_INSIDE)
def test_nothing_is_written_inside_what_is_read(logs, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    args, message = inside_cases(logs, tmp_path)[case]
    with untouched(logs):
        result = lrdoctor(*args)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {message}"
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("where", ["in the run", "the tree itself"])
def test_a_cache_inside_what_is_read_is_not_used(logs, tmp_path, monkeypatch, where):
    run = logs / "graph_free_gru_constant_lr"
    root = {"in the run": run / ".cache", "the tree itself": logs}[where]
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(root))
    read = run if where == "in the run" else logs
    with untouched(logs):
        result = analyze(read, "--format", "json", "--output", tmp_path / "report.json")
    assert result.exit_code == 1
    folder = root / f"lrdoctor-cache-v{cache.FORMAT}"
    assert result.stderr.splitlines()[0] == (
        f"lrdoctor: note: cache not used: {folder} is inside {read}, which is being read"
    )
    assert not (run / ".cache").exists() and (tmp_path / "report.json").exists()
