"""An unchanged analysis said again from its entry (``lrdoctor.replay``): the same bytes on
stdout and stderr, the same report, the same exit code, without the command line's
libraries; and any change to an input, to the invocation or to the entry runs it again.

The runs are SYNTHETIC (``writers.synthetic_collapse``), written with tensorboardX. An input
changed in the two seconds before an analysis is never replayed, so each test takes a sweep
copied at once with the others, two seconds before the first test (``pool``), and waits
(``settle``) after changing one it analyses again."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from lrdoctor import replay
from lrdoctor.read import cache
from tests.bad_input import AS_ROOT, assert_shown_safely, give_to_another_user, hostile_run, writable_by_others
from tests.writers import synthetic_collapse, write_tags

ROOT = Path(__file__).resolve().parents[1]
# replay.replayed as the console script calls it; what it returned and which of the command
# line's libraries it loaded go to a file, so stdout and stderr are the replay's alone.
_REPLAYED = """
import json, sys
from lrdoctor import replay
code = replay.replayed(sys.argv[2:])
sys.stdout.flush()
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"numpy", "pandas", "typer", "rich", "lrdoctor.cli"})
with open(sys.argv[1], "w") as handle:
    json.dump([code, heavy], handle)
"""
TAGS = {"lr": "train/learning_rate", "kl": "train/approx_kl", "entropy": "train/entropy_loss",
        "clip_fraction": "train/clip_fraction", "episode_return": "rollout/ep_rew_mean"}


def settle() -> None:
    """Wait until what was just changed is older than a replay lets an input be."""
    time.sleep(replay.RECENT_NS / 1e9 + 0.1)


def write_sweep(sweep: Path) -> None:
    steps, metrics = synthetic_collapse(n=60)
    for name, scale in (("collapsed", 1.0), ("healthy", 0.2)):
        values = {TAGS[metric]: (series * scale if metric == "kl" else series) for metric, series in metrics.items()}
        values["train/entropy_loss"] = -values["train/entropy_loss"]
        write_tags(sweep / name, steps, values)


PLACES = 40  # more than the tests below take


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Working directories, each holding a sweep of two runs (one collapsed), all settled."""
    template = tmp_path_factory.mktemp("template") / "sweep"
    write_sweep(template)
    places = []
    for index in range(PLACES):
        place = tmp_path_factory.mktemp(f"place{index}")
        shutil.copytree(template, place / "sweep", symlinks=True)
        places.append(place)
    settle()
    return places


@pytest.fixture
def place(pool):
    """A working directory of its own with a settled sweep in it, and room for a cache."""
    return pool.pop()


def environment(place: Path, **extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "PYTHONPATH")}
    return {**kept, "PYTHONPATH": str(ROOT), "LRDOCTOR_CACHE_DIR": str(place / "cache"), **extra}


def analyze(place: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``lrdoctor analyze ARGS`` as the console script runs it, in ``place``."""
    return subprocess.run([sys.executable, "-m", "lrdoctor", "analyze", *args], cwd=place, capture_output=True,
                          text=True, env=env or environment(place), check=False)


def replayed(place: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """(what replay.replayed returned, the heavy libraries it loaded, the process) for ``analyze ARGS``."""
    result = place / "replayed.json"
    done = subprocess.run([sys.executable, "-c", _REPLAYED, str(result), "analyze", *args], cwd=cwd or place,
                          capture_output=True, text=True, env=env or environment(place), check=False)
    assert done.returncode == 0, done.stderr
    code, heavy = json.loads(result.read_text())
    return code, heavy, done


def entries(place: Path) -> list[Path]:
    return sorted((place / "cache" / f"lrdoctor-cache-v{cache.FORMAT}" / replay.KIND).glob("*.bin"))


@pytest.mark.parametrize("args", [
    ["sweep"],
    ["sweep", "--format", "json"],
    ["sweep", "--verbose", "--format", "markdown", "-o", "report.md"],
    ["sweep/collapsed/", "--format", "sarif", "-o", "out/report.sarif"],
    ["sweep", "--format", "json", "-o", os.devnull],
], ids=["text", "json", "markdown to a file", "sarif into a new folder", "json to /dev/null"])
def test_an_unchanged_analysis_is_said_again_without_the_command_line_s_libraries(place, args):
    first = analyze(place, *args)
    assert first.returncode == 1, first.stderr  # the collapsed run's errors
    assert len(entries(place)) == 1
    report = next((place / arg for arg in args if arg.startswith(("report", "out/"))), None)
    written = report.read_bytes() if report is not None else None
    if report is not None:
        report.unlink()

    code, heavy, again = replayed(place, *args)

    assert (code, heavy) == (1, [])
    assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
    assert "1 collapsed" in first.stdout + first.stderr  # a real analysis was replayed
    if report is not None:
        assert report.read_bytes() == written  # written again, as analyze writes it


def test_a_run_named_by_a_stranger_is_replayed_as_safely_as_it_was_shown(place):
    """Its name, a tag and its architecture hold ESC, CR/LF, a fake annotation, bidi and
    zero-width characters: the entry holds what analyze printed, escaped, and nothing else."""
    hostile_run(place / "sweep")
    settle()
    for format in ("text", "json", "markdown", "sarif"):
        first = analyze(place, "sweep", "--format", format)
        assert first.returncode == 1, first.stderr
        code, heavy, again = replayed(place, "sweep", "--format", format)
        assert (code, heavy) == (1, []), format
        assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
        assert_shown_safely(again.stdout + again.stderr)


def on_a_terminal(place: Path, command: list[str], stream: str, columns: int = 100) -> tuple[bytes, str, int]:
    """(what a terminal of ``columns`` x 40 showed, the other stream's text, the exit code) of
    ``command`` run in ``place`` with ``stream`` ("stdout" or "stderr") that terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    other = "stderr" if stream == "stdout" else "stdout"
    child = subprocess.Popen(command, cwd=place, env=environment(place, TERM="xterm-256color"),
                             **{stream: slave, other: subprocess.PIPE})
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process that had the terminal has closed it
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    piped = getattr(child, other).read().decode()
    return bytes(shown), piped, child.wait(timeout=120)


def replayed_on_a_terminal(place: Path, args: list[str], stream: str, columns: int = 100):
    """(what replay.replayed returned, the heavy libraries it loaded, the terminal's bytes, the other stream)."""
    result = place / "replayed.json"
    command = [sys.executable, "-c", _REPLAYED, str(result), *args]
    shown, piped, exit_code = on_a_terminal(place, command, stream, columns)
    assert exit_code == 0, piped
    code, heavy = json.loads(result.read_text())
    return code, heavy, shown, piped


def test_a_report_drawn_on_a_terminal_is_replayed_as_drawn(place):
    """rich draws the text report for the terminal's width, in colour; the replay shows the
    same bytes without rich, and a terminal of another width is another invocation."""
    args = ["analyze", "sweep"]
    first, first_stderr, code = on_a_terminal(place, [sys.executable, "-m", "lrdoctor", *args], "stdout")
    assert code == 1 and b"\x1b[" in first, first_stderr  # coloured for the terminal

    replay_code, heavy, again, again_stderr = replayed_on_a_terminal(place, args, "stdout")

    assert (replay_code, heavy) == (1, [])
    assert (again, again_stderr) == (first, first_stderr)
    assert replayed_on_a_terminal(place, args, "stdout", columns=80)[0] is None


def visible(shown: bytes) -> list[str]:
    """The lines a terminal shows once the escape sequences have done their work, roughly:
    every sequence and carriage return taken out, empty lines dropped."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode()).replace("\r", "")
    return [line for line in text.split("\n") if line.strip()]


def test_lines_said_on_a_terminal_are_said_again_styled_without_the_progress_bar(place):
    args = ["analyze", "sweep", "--format", "json"]
    first, first_report, code = on_a_terminal(place, [sys.executable, "-m", "lrdoctor", *args], "stderr")
    assert code == 1

    replay_code, heavy, again, again_report = replayed_on_a_terminal(place, args, "stderr")

    assert (replay_code, heavy) == (1, ["rich"])  # rich styles the lines, and nothing more is loaded
    assert again_report == first_report
    assert visible(again) == visible(first)[-1:]
    assert visible(again)[0].startswith("2 runs: 1 collapsed")
    assert first.endswith(again)  # byte for byte what the analysis showed after its bar was gone


def _grow(place: Path) -> None:
    (event_file,) = (place / "sweep" / "collapsed").glob("events.out.tfevents.*")
    with open(event_file, "ab") as handle:
        handle.write(b"\0" * 16)


def _rewrite_keeping_size_and_times(place: Path) -> None:
    (event_file,) = (place / "sweep" / "collapsed").glob("events.out.tfevents.*")
    info = event_file.stat()
    data = bytearray(event_file.read_bytes())
    data[-5] ^= 0xFF
    event_file.write_bytes(bytes(data))
    os.utime(event_file, ns=(info.st_atime_ns, info.st_mtime_ns))  # only the ctime tells


def _config_beside_a_run(place: Path) -> None:
    (place / "sweep" / "healthy" / "config.yaml").write_text("policy: {arch: gru}\n")


def _a_new_run(place: Path) -> None:
    shutil.copytree(place / "sweep" / "healthy", place / "sweep" / "healthy2")


def _options_file_in_the_working_directory(place: Path) -> None:
    (place / "lrdoctor.toml").write_text('ignore = ["LRD003"]\n')


def _a_run_replaced_by_a_link(place: Path) -> None:
    shutil.copytree(place / "sweep" / "healthy", place / "elsewhere")
    shutil.rmtree(place / "sweep" / "healthy")
    (place / "sweep" / "healthy").symlink_to(place / "elsewhere")


def _a_linked_run_changed_where_it_lives(place: Path) -> None:
    (event_file,) = (place / "elsewhere").glob("events.out.tfevents.*")
    with open(event_file, "ab") as handle:
        handle.write(b"\0" * 16)


def _mode(place: Path) -> None:
    (event_file,) = (place / "sweep" / "collapsed").glob("events.out.tfevents.*")
    event_file.chmod(0o600)


CHANGES = {
    "an event file grown": _grow,
    "an event file rewritten with its size and times": _rewrite_keeping_size_and_times,
    "a config beside a run": _config_beside_a_run,
    "a new run": _a_new_run,
    "lrdoctor.toml in the working directory": _options_file_in_the_working_directory,
    "a run replaced by a link to a copy": _a_run_replaced_by_a_link,
    "an event file's mode": _mode,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_an_input_runs_the_analysis_again(place, change):
    assert analyze(place, "sweep").returncode == 1
    assert replayed(place, "sweep")[0] == 1
    change(place)
    code, _, _ = replayed(place, "sweep")
    assert code is None


def test_no_cache_looks_for_no_entry_and_never_reaches_the_cache_folder(tmp_path, monkeypatch):
    reached = []

    def root() -> Path:
        reached.append(True)
        return tmp_path / "cache"

    monkeypatch.setattr(replay.store, "root", root)
    assert replay.replayed(["analyze", str(tmp_path), "--no-cache", "--format", "json"]) is None
    assert reached == []
    assert replay.replayed(["analyze", str(tmp_path), "--format", "json"]) is None  # no entry there
    assert reached, "without --no-cache the entry is looked for"


def test_a_run_reached_through_a_link_is_an_input_where_it_lives(place):
    _a_run_replaced_by_a_link(place)
    settle()
    assert analyze(place, "sweep").returncode == 1
    assert replayed(place, "sweep")[0] == 1
    _a_linked_run_changed_where_it_lives(place)
    assert replayed(place, "sweep")[0] is None


def test_another_invocation_is_not_the_one_replayed(place):
    assert analyze(place, "sweep").returncode == 1
    assert replayed(place, "sweep")[0] == 1
    for args, env in [
        (["sweep", "--verbose"], {}),
        (["sweep", "--set", "kl-exceeded.threshold=0.5"], {}),
        (["./sweep"], {}),
        (["sweep"], {"COLUMNS": "61"}),
        (["sweep"], {"NO_COLOR": "1"}),
    ]:
        assert replayed(place, *args, env=environment(place, **env))[0] is None, (args, env)
    absolute = str(place / "sweep")
    assert analyze(place, absolute).returncode == 1
    assert replayed(place, absolute)[0] == 1
    (place / "elsewhere").mkdir()
    assert replayed(place, absolute, cwd=place / "elsewhere")[0] is None  # another working directory


def test_a_file_a_config_s_defaults_list_looked_for_above_the_sweep_is_an_input(place):
    """``defaults: [{algo: ppo}]`` is looked for beside the config and up to three folders
    above it (configs.compose), so ``place/algo/ppo.yaml``, outside the sweep, decides the LR."""
    (place / "sweep" / "collapsed" / "config.yaml").write_text("defaults:\n  - algo: ppo\n  - _self_\n")
    settle()
    assert analyze(place, "sweep").returncode == 1
    assert replayed(place, "sweep")[0] == 1

    (place / "algo").mkdir()
    (place / "algo" / "ppo.yaml").write_text("learning_rate: 0.125\n")
    assert replayed(place, "sweep")[0] is None
    composed = analyze(place, "sweep", "--format", "json")
    assert "0.125" in composed.stdout  # the file found above the sweep is read: a real input
    settle()
    analyze(place, "sweep")
    assert replayed(place, "sweep")[0] == 1

    (place / "algo" / "ppo.yaml").write_text("learning_rate: 0.25\n")
    assert replayed(place, "sweep")[0] is None


def _fresh(place: Path) -> list[str]:
    write_sweep(place / "new")  # just written
    return ["new"]


def _unreadable_run(place: Path) -> list[str]:
    (place / "sweep" / "broken").mkdir()
    (place / "sweep" / "broken" / "events.out.tfevents.1.host").write_bytes(b"not an event file at all")
    settle()
    return ["sweep"]


@pytest.mark.parametrize("case", [
    lambda place: ["sweep", "--no-cache"],
    lambda place: ["sweep", "--plots", "figures"],
    lambda place: ["sweep", "--reader", "tbparse"],
    _fresh,
    _unreadable_run,
], ids=["--no-cache", "figures", "the reference reader", "files written a moment ago", "a run not read"])
def test_no_entry_is_kept_where_a_replay_could_differ(place, case):
    args = case(place)
    done = analyze(place, *args)
    assert done.returncode in (1, 2), done.stderr
    assert entries(place) == []
    assert replayed(place, *args)[0] is None


def _flip_a_byte(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0x01
    entry.write_bytes(bytes(data))


def _cut_short(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:-1])


def test_an_entry_not_as_written_or_not_this_user_s_alone_is_not_used(place):
    assert analyze(place, "sweep").returncode == 1
    (entry,) = entries(place)
    written = entry.read_bytes()
    spoils = [_flip_a_byte, _cut_short, writable_by_others] + ([give_to_another_user] if AS_ROOT else [])
    for spoil in spoils:
        spoil(entry)
        assert replayed(place, "sweep")[0] is None, spoil.__name__
        entry.unlink()
        entry.write_bytes(written)
        entry.chmod(0o600)
        assert replayed(place, "sweep")[0] == 1  # as written, it is used


def test_a_report_is_replayed_only_where_analyze_would_write_it(place):
    """Where ``-o`` leads is not an input: a folder replaced by a link into the sweep after
    the analysis is refused as analyze refuses it, and nothing is written there."""
    args = ["sweep", "--format", "json", "-o", "out/report.json"]
    assert analyze(place, *args).returncode == 1
    shutil.rmtree(place / "out")
    (place / "out").symlink_to(place / "sweep" / "healthy")
    before = sorted(os.listdir(place / "sweep" / "healthy"))

    code, _, done = replayed(place, *args)

    assert code == 2
    assert done.stderr.startswith("lrdoctor: error: out/report.json: inside sweep, which lrdoctor is reading")
    assert sorted(os.listdir(place / "sweep" / "healthy")) == before


def test_a_snapshot_follows_links_as_discovery_does_and_never_loops(tmp_path):
    write_tags(tmp_path / "sweep" / "run", [1, 2, 3], {"train/approx_kl": [0.01] * 3})
    (tmp_path / "sweep" / "loop").symlink_to(tmp_path / "sweep")
    (tmp_path / "sweep" / "system").symlink_to("/proc")
    sweep = [str(tmp_path / "sweep")]
    first = replay.snapshot(sweep, str(tmp_path))
    assert first is not None and first == replay.snapshot(sweep, str(tmp_path))
    (tmp_path / "sweep" / "run" / "notes.txt").write_text("a new file, deep down\n")
    assert replay.snapshot(sweep, str(tmp_path)) != first


def test_a_replay_entry_is_the_cache_s_own_to_prune(place):
    assert analyze(place, "sweep").returncode == 1
    owned = [path for path, _, _ in cache._owned(place / "cache")]
    assert [str(entry) for entry in entries(place)] == [p for p in owned if f"/{replay.KIND}/" in p]
