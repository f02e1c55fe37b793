"""lrdoctor.live.watch: one pass at a time, against event files a writer process grows.

The writer is a separate process that appends the SYNTHETIC collapse run of
scripts/make_sample_logs.py (``constant_lr_run``) with tensorboardX's record writer,
a chunk of steps at a time, and waits for the test between chunks (lockstep), so
each pass sees exactly the chunks written before it. The reference for "when should
a finding appear" is ``analyze``'s own reading (ingest + engine) of the same bytes.
No test sleeps or looks at the clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from lrdoctor.cli.watch import parse_command
from lrdoctor.errors import InputError
from lrdoctor.live import watch
from lrdoctor.model import Finding, Severity
from lrdoctor.read import events, ingest
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).resolve().parents[2]
SAMPLES_SCRIPT = ROOT / "scripts" / "make_sample_logs.py"

# Appends constant_lr_run() to OUT_DIR: one line on stdin = how many more steps to
# write; answers with the last step written once the bytes are flushed to the file.
LOCKSTEP_WRITER = textwrap.dedent(
    """
    import importlib.util, json, sys
    from pathlib import Path
    from tensorboardX.proto import event_pb2
    from tensorboardX.record_writer import RecordWriter
    from tensorboardX.summary import scalar

    spec = importlib.util.spec_from_file_location("make_sample_logs", sys.argv[1])
    samples = sys.modules["make_sample_logs"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    run = samples.constant_lr_run()
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if sys.argv[3] == "with-config":
        (out / "config.json").write_text(json.dumps(run.config))
    by_step = {}
    for tag, (steps, values) in run.series.items():
        for step, value in zip(steps.tolist(), values.tolist()):
            by_step.setdefault(step, []).append((tag, value))
    pending = sorted(by_step)
    writer = RecordWriter(str(out / samples.EVENT_FILE_NAME))
    writer.write(event_pb2.Event(wall_time=samples.START_WALL_TIME, file_version="brain.Event:2").SerializeToString())
    writer.flush()
    last = -1
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        count = int(line)
        for step in pending[:count]:
            for tag, value in by_step[step]:
                event = event_pb2.Event(wall_time=run.wall_times[step], step=step, summary=scalar(tag, value))
                writer.write(event.SerializeToString())
            last = step
        pending = pending[count:]
        writer.flush()
        print(last, flush=True)
    writer.close()
    """
)


class LockstepWriter:
    """The writer process, driven chunk by chunk."""

    def __init__(self, run_dir: Path, config: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOCKSTEP_WRITER, str(SAMPLES_SCRIPT), str(run_dir),
             "with-config" if config else "events-only"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def write(self, steps: int) -> int:
        """Append ``steps`` more steps; returns the last step now in the file (-1: none)."""
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def writer_factory(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    writers = []

    def start(run_dir: Path, config: bool = False) -> LockstepWriter:
        writers.append(LockstepWriter(run_dir, config))
        return writers[-1]

    yield start
    for writer in writers:
        writer.close()


def settings(**rule_options) -> watch.Settings:
    return watch.Settings(options=load_options(cwd=ROOT / "tests"), **rule_options)


def reference(root: Path, options) -> set[tuple[str, str]]:
    """(code, severity) of every finding analyze gives the runs under ``root`` right now."""
    runs = ingest.load(root, use_cache=False).runs
    return {(f.code, f.severity.value) for result in engine.analyze(runs, options) for f in result.findings}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_each_finding_appears_in_the_pass_that_first_sees_its_data_and_only_once(writer_factory, tmp_path):
    logs = tmp_path / "logs"
    writer = writer_factory(logs / "graph_free_gru_constant_lr", config=False)
    writer.write(0)  # the file exists (file_version record only) before the first pass
    config = settings()
    state, first_seen, expected_first, sightings = watch.WatchState(), {}, {}, []
    last = -1
    while True:
        step = writer.write(10)
        if step == last:
            break
        last = step
        state, new = watch.poll(state, [logs], config)
        sightings += new
        for sighting in new:
            first_seen.setdefault((sighting.finding.code, sighting.finding.severity.value), state.passes)
        for key in reference(logs, config.options):
            expected_first.setdefault(key, state.passes)
        assert state.changed == (str(logs / "graph_free_gru_constant_lr"),)
        assert all(s.read_to_step == step for s in new)

    # the collapse as analyze sees it, each finding exactly when its data arrived
    assert first_seen == expected_first
    assert ("LRD001", "error") in first_seen and ("LRD006", "error") in first_seen
    assert first_seen[("LRD001", "warning")] < first_seen[("LRD001", "error")]
    # reported once per severity, the severity only rising
    keys = [(watch.identity(s.finding, s.run_path), s.finding.severity) for s in sightings]
    assert len(keys) == len(set(keys))
    for identity in {key for key, _ in keys}:
        ranks = [severity.rank for key, severity in keys if key == identity]
        assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    lrd001 = [s.finding for s in sightings if s.finding.code == "LRD001"]
    assert {f.step for f in lrd001} == {1_900_544}  # the first step over 0.02, as the sample's README says


def test_with_its_config_the_cause_is_caught_before_the_kl_moves(writer_factory, tmp_path):
    run_dir = tmp_path / "graph_free_gru_constant_lr"
    writer = writer_factory(run_dir, config=True)
    writer.write(2)
    state, new = watch.poll(watch.WatchState(), [run_dir], settings())
    # the KL has not moved yet: a constant LR on a GRU is a risk, reported as a warning (issue 15)
    assert [(s.finding.code, s.finding.severity) for s in new if s.finding.severity is not Severity.info] == [
        ("LRD002", Severity.warning)
    ]
    assert new[0].read_to_step == 2 * 16_384


def test_a_pass_reads_only_appended_bytes_and_nothing_when_nothing_changed(writer_factory, tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    writer = writer_factory(logs / "run", config=False)
    writer.write(5)
    full_reads, appended_reads, judged = [], [], []
    real_read, real_cached, real_analyze = events.read_event_file, watch.read_events, watch.engine.analyze

    def read_from(path, want, start=0):  # a read from an offset: only the appended bytes
        if start:
            appended_reads.append(start)
        return real_read(path, want, start)

    monkeypatch.setattr(events, "read_event_file", read_from)
    monkeypatch.setattr(watch, "read_events", lambda p, w, c: full_reads.append(p) or real_cached(p, w, c))
    monkeypatch.setattr(watch.engine, "analyze", lambda runs, o: judged.append(len(runs)) or real_analyze(runs, o))
    config = settings()

    state, _ = watch.poll(watch.WatchState(), [logs], config)
    assert (len(full_reads), appended_reads, judged) == (1, [], [1])
    end = state.runs[str(logs / "run")].files
    (offset,) = [file.data.end_offset for file in end.values()]
    assert offset == next(iter(end)).stat().st_size  # read to the end, nothing pending

    for _ in range(3):  # quiet passes: a stat, no read, no rules
        state, new = watch.poll(state, [logs], config)
        assert (new, state.changed) == ([], ())
    assert (len(full_reads), appended_reads, judged) == (1, [], [1])

    writer.write(5)
    state, _ = watch.poll(state, [logs], config)
    assert (len(full_reads), appended_reads, judged) == (1, [offset], [1, 1])
    run = state.runs[str(logs / "run")].result.run
    whole = ingest.load_runs(logs / "run", use_cache=False)[0]
    assert set(run.metrics) == set(whole.metrics)
    for metric, series in whole.metrics.items():
        assert run.metrics[metric].equals(series)


def test_a_record_cut_by_the_writer_is_read_whole_by_the_next_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    source = ROOT / "sample_logs" / "graph_free_gru_constant_lr"
    event_file = next(source.glob("events.out.tfevents.*"))
    content = event_file.read_bytes()
    live = tmp_path / "live" / "graph_free_gru_constant_lr"
    live.mkdir(parents=True)
    (live / "config.json").write_bytes((source / "config.json").read_bytes())
    target = live / event_file.name
    cut = len(content) // 2 + 7  # mid-record, as a writer's buffer is flushed
    target.write_bytes(content[:cut])

    state, _ = watch.poll(watch.WatchState(), [live], settings())
    assert state.fresh_notes == ()  # the unfinished tail is not a read problem of a live run
    with open(target, "ab") as handle:
        handle.write(content[cut:])
    state, _ = watch.poll(state, [live], settings())
    run = state.runs[str(live)].result.run
    whole = ingest.load_runs(source, use_cache=False)[0]
    for metric, series in whole.metrics.items():
        assert run.metrics[metric].equals(series)
    assert run.notes == ()


def test_a_run_that_starts_later_is_picked_up_and_nothing_is_written_beside_the_runs(writer_factory, tmp_path):
    logs = tmp_path / "logs"
    first = writer_factory(logs / "a", config=True)
    first.write(3)
    state, new = watch.poll(watch.WatchState(), [logs], settings())
    assert {s.finding.run for s in new} == {"a"}
    second = writer_factory(logs / "b", config=True)
    second.write(3)
    before = snapshot(logs)
    state, new = watch.poll(state, [logs], settings())
    assert state.changed == (str(logs / "b"),)
    assert {s.finding.run for s in new} == {"b"}
    assert set(state.runs) == {str(logs / "a"), str(logs / "b")}
    assert snapshot(logs) == before


def test_a_progress_csv_run_is_followed_too(tmp_path):
    from writers import write_progress_csv

    run_dir = tmp_path / "PPO_1"
    steps = [2048 * (i + 1) for i in range(40)]
    write_progress_csv(run_dir, steps[:20], {"kl": [0.01] * 20, "lr": [3e-4] * 20})
    state, new = watch.poll(watch.WatchState(), [tmp_path], settings(arch="lstm"))
    codes = {s.finding.code for s in new}
    assert "LRD002" in codes and "LRD001" not in codes
    write_progress_csv(run_dir, steps, {"kl": [0.01] * 20 + [0.05] * 20, "lr": [3e-4] * 40})
    state, new = watch.poll(state, [tmp_path], settings(arch="lstm"))
    # the KL now runs over for a sustained stretch: that is news, and it makes the constant LR
    # on an LSTM an error too (its severity follows the run's dynamics, issue 15)
    found = {s.finding.code: s.finding for s in new}
    assert {code: f.severity for code, f in found.items()} == {"LRD001": Severity.error, "LRD002": Severity.error, "LRD015": Severity.warning}
    assert found["LRD001"].step == steps[20]


def test_a_missing_path_is_an_input_error_on_the_first_pass_and_a_note_later(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        watch.poll(watch.WatchState(), [tmp_path / "nope"], settings())
    gone = tmp_path / "gone"
    gone.mkdir()
    state, _ = watch.poll(watch.WatchState(), [gone], settings())
    gone.rmdir()
    state, _ = watch.poll(state, [gone], settings())
    assert [note.message for note in state.fresh_notes] == ["no longer exists: its runs keep their last state"]
    state, _ = watch.poll(state, [gone], settings())
    assert state.fresh_notes == ()  # said once


def finding(code="LRD001", severity=Severity.warning, **evidence) -> Finding:
    return Finding(code=code, rule="x", severity=severity, message="m", run="r", step=1, evidence=evidence)


@pytest.mark.parametrize(
    "before, after, reported_again",
    [
        (finding(peak=0.03), finding(peak=0.04), False),  # the peak grew: same finding
        (finding(), finding(severity=Severity.error), True),  # spike became sustained: news
        (finding(severity=Severity.error), finding(), False),  # severity fell: not news
        (finding("LRD010", Severity.info, metric="kl"), finding("LRD010", Severity.info, metric="lr"), True),
        (finding("LRD009", signal="value_loss_growth"), finding("LRD009", signal="explained_variance_fall"), True),
        (finding("LRD007", Severity.error, metric="kl", count=1),
         finding("LRD007", Severity.error, metric="kl", count=5), False),
    ],
)
def test_what_counts_as_a_new_finding(before, after, reported_again):
    reported: dict = {}
    assert watch.new_findings([before], "runs/a", reported) == [before]
    assert watch.new_findings([after], "runs/a", reported) == ([after] if reported_again else [])
    assert watch.new_findings([before], "runs/b", reported) == [before]  # another run


def test_exec_placeholders_are_whole_arguments_and_environment_variables():
    argv = parse_command("notify-send lrdoctor {run} {code} {step} {message} '{print $1}' $HOME")
    found = replace(finding(severity=Severity.error), message="it's \"bad\"; rm -rf / \x1b[2J", step=1_900_544)
    command = watch.command_for(argv, watch.Sighting(found, "logs/r", 0.0, 3, 2_000_000))
    message = "it's \"bad\"; rm -rf / \\x1b[2J"  # as lrdoctor prints it: no escape sequence
    assert command.argv == ("notify-send", "lrdoctor", "r", "LRD001", "1900544", message, "{print $1}", "$HOME")
    assert command.env == {
        "LRDOCTOR_RUN": "r", "LRDOCTOR_PATH": "logs/r", "LRDOCTOR_CODE": "LRD001", "LRDOCTOR_RULE": "x",
        "LRDOCTOR_SEVERITY": "error", "LRDOCTOR_STEP": "1900544", "LRDOCTOR_MESSAGE": message,
    }
    assert command.refused is None


def test_a_value_that_reads_as_an_option_is_passed_only_after_a_double_dash():
    sighting = watch.Sighting(replace(finding(), run="--version"), "logs/--version", 0.0, 1, 1)
    refused = watch.command_for(parse_command("notify-send lrdoctor {run}"), sighting)
    assert refused.refused.startswith("not run for --version: {run} is '--version', which notify-send would read")
    assert watch.run_command(refused, timeout=30).startswith("--exec notify-send: not run for --version")
    passed = watch.command_for(parse_command("notify-send lrdoctor -- {run} {path}"), sighting)
    assert passed.argv == ("notify-send", "lrdoctor", "--", "--version", "logs/--version") and passed.refused is None


@pytest.mark.parametrize(
    "text, message",
    [
        ('sh -c "notify {run}"', "{run} inside the argument 'notify {run}': a placeholder must be an argument of its own"),
        ("notify --name={message}", "a shell script reads $LRDOCTOR_MESSAGE"),
        ("{run} --now", "--exec {run}: the program is named, never a placeholder"),
        ("{path}", "the program is named, never a placeholder"),
    ],
)
def test_placeholders_pasted_into_an_argument_or_naming_the_program_are_refused(text, message):
    with pytest.raises(InputError) as error:
        parse_command(text)
    assert message in str(error.value)


def test_run_command_reports_failures_and_timeouts(tmp_path):
    def command(*argv):
        return watch.Command(argv, {})

    assert watch.run_command(command(sys.executable, "-c", "pass"), timeout=30) is None
    assert watch.run_command(command(sys.executable, "-c", "raise SystemExit(3)"), timeout=30).endswith("exit code 3")
    assert "killed after" in watch.run_command(command(sys.executable, "-c", "import time; time.sleep(30)"), timeout=0.2)
    assert watch.run_command(command(str(tmp_path / "no-such-program")), timeout=30) is not None


def test_config_json_of_the_lockstep_writer_is_the_samples(writer_factory, tmp_path):
    """The writer reproduces sample_logs/: same config, same events (so the reference facts hold)."""
    run_dir = tmp_path / "graph_free_gru_constant_lr"
    writer = writer_factory(run_dir, config=True)
    assert writer.write(1000) == 285 * 16_384  # all of it
    writer.close()
    sample = ROOT / "sample_logs" / "graph_free_gru_constant_lr"
    assert json.loads((run_dir / "config.json").read_text()) == json.loads((sample / "config.json").read_text())
    (written,) = run_dir.glob("events.out.tfevents.*")
    assert written.read_bytes() == next(sample.glob("events.out.tfevents.*")).read_bytes()


def test_read_problems_inside_a_run_are_noted_once(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    from writers import write_tags

    run_dir = tmp_path / "run"
    write_tags(run_dir, [1, 2, 3], {"my/kl": [0.01, 0.02, 0.03]})
    (run_dir / "config.yaml").write_text("policy: [unclosed\n")
    state, _ = watch.poll(watch.WatchState(), [tmp_path], settings())
    messages = [note.message for note in state.fresh_notes]
    assert any("no known tags" in m for m in messages) and any("config.yaml" in n.path for n in state.fresh_notes)
    write_tags(run_dir, [4], {"my/kl": [0.04]}, suffix=".2")
    state, _ = watch.poll(state, [tmp_path], settings())
    assert state.changed == (str(run_dir),) and state.fresh_notes == ()


def test_a_file_rewritten_in_the_middle_then_grown_is_read_again_in_full(tmp_path, monkeypatch):
    """Grown, same inode, but a value before the old end changed: not "appended", so the
    next pass reads the whole file, never serving the old number (issue 14)."""
    from bad_input import append_scalar, rewrite_scalar
    from writers import synthetic_collapse, write_run

    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "logs" / "run"
    steps, metrics = synthetic_collapse(n=40)  # SYNTHETIC
    write_run(run, "sb3", steps, metrics)
    state, _ = watch.poll(watch.WatchState(), [tmp_path / "logs"], settings())
    (event_file,) = run.glob("events.out.tfevents.*")
    rewrite_scalar(event_file, "train/approx_kl", int(steps[3]), 0.5)
    append_scalar(event_file, "train/approx_kl", int(steps[-1]) + 2048, 0.01)
    state, _ = watch.poll(state, [tmp_path / "logs"], settings())
    kl_steps, values = state.runs[str(run)].result.run.metrics.points("kl")
    assert values[3] == pytest.approx(0.5) and (kl_steps[-1], values[-1]) == (int(steps[-1]) + 2048, pytest.approx(0.01))
