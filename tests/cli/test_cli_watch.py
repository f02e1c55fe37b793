"""`lrdoctor watch` through the real command line.

The acceptance test replays the originating failure live: a writer process
(tensorboardX's SummaryWriter, flushing every step, as a trainer does) appends the
SYNTHETIC collapse run of scripts/make_sample_logs.py step by step while
``lrdoctor watch --every 0.2s --exit-on error -v`` follows the directory in another
process. The ``-v`` pass lines say how far each pass had read, so the test counts
passes, never seconds. Every process is bounded (``--passes``, timeouts).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lrdoctor.cli import app
from lrdoctor.cli.watch import parse_command, parse_interval
from lrdoctor.errors import InputError
from lrdoctor.live import watch
from lrdoctor.model import Metrics
from lrdoctor.read import ingest
from lrdoctor.read.lrshape import lr_shape
from lrdoctor.report.watch import runs_table
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"
runner = CliRunner()
BOUND = ["--passes", "400"]  # no test can watch forever, whatever goes wrong

# Appends constant_lr_run() to a run directory with SummaryWriter, one step at a time.
LIVE_WRITER = textwrap.dedent(
    """
    import importlib.util, sys, time
    from tensorboardX import SummaryWriter

    spec = importlib.util.spec_from_file_location("make_sample_logs", sys.argv[1])
    samples = sys.modules["make_sample_logs"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    run = samples.constant_lr_run()
    by_step = {}
    for tag, (steps, values) in run.series.items():
        for step, value in zip(steps.tolist(), values.tolist()):
            by_step.setdefault(step, []).append((tag, value))
    writer = SummaryWriter(sys.argv[2], flush_secs=3600)
    for step in sorted(by_step):
        for tag, value in by_step[step]:
            writer.add_scalar(tag, value, step, walltime=run.wall_times[step])
        writer.flush()
        time.sleep(0.01)
    writer.close()
    """
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def copy_samples(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    shutil.copytree(SAMPLES, logs)
    return logs


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def finding_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.search(r": LRD\d{3} (error|warning|info)", line)]


def first_sustained_error_step(run_dir: Path) -> tuple[int, dict]:
    """The first step at which the rules, reading the run up to there, call LRD001 an error."""
    run = ingest.load_runs(run_dir, use_cache=False)[0]
    options = load_options(cwd=ROOT / "tests", select=["LRD001"])
    for step in run.metrics["kl"].index:
        metrics = Metrics({name: series[series.index <= step] for name, series in run.metrics.items()})
        prefix = dataclasses.replace(run, metrics=metrics, lr_shape=lr_shape(metrics.points("lr")))
        for finding in engine.findings_for(prefix, options):
            if finding.severity.value == "error":
                return int(step), dict(finding.evidence)
    raise AssertionError("LRD001 never became an error")


def test_acceptance_a_live_collapse_stops_the_watch_within_two_passes_of_the_sustained_kl(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    run_dir = logs / "PPO_1"  # events only: the architecture is unknown, so the KL is what stops it
    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(ROOT / "scripts" / "make_sample_logs.py"),
                               str(run_dir)])
    try:
        watcher = subprocess.run(
            [sys.executable, "-m", "lrdoctor", "watch", str(logs), "--every", "0.2s", "--exit-on", "error", "-v",
             *BOUND],
            capture_output=True, text=True, timeout=120, cwd=ROOT / "tests",
            env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        writer.kill()  # the rest of the run is not needed: what it wrote so far is read below
        writer.wait()
    assert watcher.returncode == 1, watcher.stderr

    sustained_step, evidence = first_sustained_error_step(run_dir)
    assert evidence["sustained"] and evidence["first_step_over"] == 1_900_544
    read_to = [(int(n), int(s.replace(",", ""))) for n, s in
               re.findall(r"^pass (\d+): PPO_1 read to step ([\d,]+)$", watcher.stderr, re.M)]
    first_pass_with_it = min(n for n, step in read_to if step >= sustained_step)
    stopped_at = int(re.search(r"stopped at pass (\d+) by LRD001 error in PPO_1", watcher.stderr).group(1))
    assert first_pass_with_it <= stopped_at <= first_pass_with_it + 1
    assert max(step for _, step in read_to) < 285 * 16_384  # it stopped while the run was still going

    lines = finding_lines(watcher.stdout)
    assert any(": LRD001 error at step 1,900,544 (read to step " in line for line in lines), watcher.stdout
    assert len(lines) == len(set(lines))


def test_exit_on_error_stops_at_the_first_pass_that_sees_one(tmp_path):
    logs = copy_samples(tmp_path)
    result = runner.invoke(app, ["watch", str(logs), "--every", "0.2s", "--exit-on", "error", *BOUND])
    assert result.exit_code == 1, result.stderr
    # LRD002 (a settings finding) comes first in the pass but stops nothing: the collapse does
    assert "stopped at pass 1 by LRD006 error in graph_free_gru_constant_lr" in result.stderr
    static = runner.invoke(app, ["watch", str(logs), "--once", "--exit-on", "error", "--exit-on-static"])
    assert static.exit_code == 1 and "stopped at pass 1 by LRD002 error" in static.stderr
    # the whole pass is printed before stopping: one line per finding analyze gives
    expected = [f for r in engine.analyze(ingest.load_runs(logs), load_options()) for f in r.findings]
    assert len(finding_lines(result.stdout)) == len(expected)


def test_exit_on_warning_exits_at_the_collapse_forecast_and_not_on_a_settings_warning(tmp_path):
    run = tmp_path / "graph_free_gru_constant_lr"
    shutil.copytree(SAMPLES / run.name, run)
    result = runner.invoke(app, ["watch", str(run), "--once", "--exit-on", "warning", "--select", "LRD015", "--select", "LRD002"])
    assert result.exit_code == 1, result.stderr
    assert "stopped at pass 1 by LRD015 warning in graph_free_gru_constant_lr (--exit-on warning)" in result.stderr
    assert any(": LRD015 warning at step " in line and "collapse expected within ~6 updates" in line
               for line in finding_lines(result.stdout))
    real = tmp_path / "sb3_recurrentppo_cartpole"
    shutil.copytree(SAMPLES / real.name, real)  # LRD002 as a warning on a run that held: no exit
    quiet = runner.invoke(app, ["watch", str(real), "--once", "--exit-on", "warning", "--select", "LRD002"])
    assert quiet.exit_code == 0 and ": LRD002 warning" in quiet.stdout


def test_exit_on_warning_is_not_triggered_by_a_healthy_run(tmp_path):
    run = tmp_path / "graph_free_gru_recommended"
    shutil.copytree(SAMPLES / run.name, run)
    result = runner.invoke(app, ["watch", str(run), "--every", "0.2s", "--exit-on", "warning", "--passes", "2"])
    assert result.exit_code == 0, result.stderr
    assert finding_lines(result.stdout) == []
    assert "watched 1 run for 2 passes" in result.stderr


def test_each_finding_is_printed_once_with_its_step_and_nothing_is_written_beside_the_runs(tmp_path):
    logs = copy_samples(tmp_path)
    before = snapshot(logs)
    result = runner.invoke(app, ["watch", str(logs), "--every", "0.2s", "--passes", "3", "-v"])
    assert result.exit_code == 0, result.stderr
    lines = finding_lines(result.stdout)
    expected = [f for r in engine.analyze(ingest.load_runs(logs), load_options()) for f in r.findings]
    assert len(lines) == len(expected) and len(set(lines)) == len(lines)
    for finding in expected:
        at = f" at step {finding.step:,}" if finding.step is not None else ""
        assert any(f"{finding.run}: {finding.code} {finding.severity.value}{at} (read to step" in line
                   for line in lines), finding
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line) for line in lines)  # when it was seen
    assert [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("pass ")] == ["pass 1"] * 3
    assert "watched 3 runs for 3 passes" in result.stderr
    assert snapshot(logs) == before


def test_rule_options_are_those_of_analyze(tmp_path):
    logs = copy_samples(tmp_path)
    args = ["watch", str(logs), "--once", "--select", "kl-exceeded", "--set", "kl-exceeded.use_target_kl=false",
            "--set", "kl-exceeded.threshold=0.05", "--tag", "kl=train/approx_kl", "--arch", "mlp"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    lines = finding_lines(result.stdout)
    # only the real RecurrentPPO run peaks over 0.05, and it logs train/approx_kl; the synthetic runs
    # log the same tag as training/approx_kl too, so the override changes nothing there
    assert len(lines) == 1 and "RecurrentPPO_1: LRD001" in lines[0] and "exceeded 0.05" in lines[0]


def test_exec_runs_a_command_per_new_finding(tmp_path):
    logs = copy_samples(tmp_path)
    out = tmp_path / "notified.txt"
    script = "import sys; open(sys.argv[1], 'a').write(' | '.join(sys.argv[2:]) + chr(10))"
    command = shlex.join([sys.executable, "-c", script, str(out), "{run}", "{code}", "{severity}", "{step}"])
    # LRD006 ignored: with the collapse named, its later forecast is dropped (see the engine)
    result = runner.invoke(app, ["watch", str(logs), "--every", "0.2s", "--passes", "2", "--exec", command,
                                 "--ignore", "LRD006"])
    assert result.exit_code == 0, result.stderr
    notified = out.read_text().splitlines()
    assert len(notified) == len(finding_lines(result.stdout)) == 6
    assert any(line.startswith("graph_free_gru_constant_lr | LRD015 | warning | ") for line in notified)  # the forecast
    assert "graph_free_gru_constant_lr | LRD001 | error | 1900544" in notified
    assert "graph_free_gru_constant_lr | LRD002 | error | " in notified  # a finding without a step


def test_a_failing_exec_command_is_reported_and_the_watch_goes_on(tmp_path):
    run = tmp_path / "graph_free_gru_constant_lr"
    shutil.copytree(SAMPLES / run.name, run)
    command = shlex.join([sys.executable, "-c", "raise SystemExit(7)"])
    result = runner.invoke(app, ["watch", str(run), "--once", "--select", "LRD001", "--exec", command])
    assert result.exit_code == 0
    assert "lrdoctor: --exec " in result.stderr and "exit code 7" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--every", "soon"], "--every soon"),
        (["--exec", "notify '{run}"], "--exec"),
        (["--exec", "notify {nope}"], "unknown placeholder {nope}"),
        (["--set", "kl-exceeded"], "--set kl-exceeded"),
        (["--tag", "speed=my/tag"], "unknown metric"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, message):
    result = runner.invoke(app, ["watch", str(SAMPLES), "--once", *args])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_a_missing_path_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["watch", str(tmp_path / "nope"), "--once"])
    assert result.exit_code == 2 and "no such file or directory" in result.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_a_termination_ends_cleanly_with_a_summary(tmp_path, stop):
    """SIGTERM is how `timeout`, a cancelled CI job or a process manager stop a watch."""
    logs = copy_samples(tmp_path)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "lrdoctor", "watch", str(logs), "--every", "0.2s", *BOUND],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT / "tests",
        # as from a terminal: a shell's background job (`pytest &`) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = watcher.stdout.readline()  # the first pass has reported: the watch is under way
        watcher.send_signal(stop)
        rest, stderr = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, stderr
    assert ": LRD" in first
    assert "Traceback" not in stderr
    assert re.search(r"^watched 3 runs for \d+ pass(es)?; findings now: 3 error, 2 warning, 1 info$", stderr, re.M)


def test_the_live_table_shows_each_run_and_its_state(tmp_path):
    logs = copy_samples(tmp_path)
    state, _ = watch.poll(watch.WatchState(), [logs], watch.Settings(load_options()))
    console = Console(record=True, width=160)
    console.print(runs_table(state))
    text = console.export_text()
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:]}
    assert rows["graph_free_gru_constant_lr"][1:3] == ["gru", "4.67M"]
    assert rows["graph_free_gru_constant_lr"][4:7] == ["0.0334", "collapsed", "LRD001"]
    assert rows["graph_free_gru_recommended"][-1] == "ok"
    assert rows["sb3_recurrentppo_cartpole/RecurrentPPO_1"][1] == "lstm"


@pytest.mark.parametrize(
    "text, seconds",
    [("60s", 60.0), ("2m", 120.0), ("0.5s", 0.5), ("500ms", 0.5), ("1h", 3600.0), ("3", 3.0), (".2s", 0.2),
     ("24h", 86400.0)],
)
def test_intervals(text, seconds):
    assert parse_interval(text, "--every") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0s", "fast", "-1s", "1d", "1e999s", "1 s s", "24.1h", "99999999999h", "9" * 400])
def test_bad_intervals(text):
    with pytest.raises(InputError, match="^--exec-timeout "):
        parse_interval(text, "--exec-timeout")


@pytest.mark.parametrize(
    "text, message", [("", "empty command"), ("a 'b", "quotation"), ("x {nope}", "unknown placeholder")]
)
def test_bad_exec_commands(text, message):
    with pytest.raises(InputError, match=message):
        parse_command(text)
