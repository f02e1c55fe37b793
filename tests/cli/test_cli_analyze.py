"""`lrdoctor analyze` through the real CLI: sample_logs end to end, and runs written by tensorboardX."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner
from writers import synthetic_collapse, truncate, write_run, write_tags

from lrdoctor.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
COLLAPSE = SAMPLES / "graph_free_gru_constant_lr"  # synthetic: the originating failure
RECOMMENDED = SAMPLES / "graph_free_gru_recommended"  # synthetic: the same policy on the recommended schedule
REAL = SAMPLES / "sb3_recurrentppo_cartpole"  # real: sb3-contrib RecurrentPPO, MlpLstmPolicy, CartPole-v1


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))


def analyze(*args: str):
    return runner.invoke(app, ["analyze", *map(str, args), "--jobs", "1"])


def json_report(*args: str) -> dict:
    result = analyze(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def findings_by_code(run: dict) -> dict[str, dict]:
    return {finding["code"]: finding for finding in run["findings"]}


@pytest.fixture
def collapse_dir(tmp_path) -> Path:
    """SYNTHETIC: an SB3 RecurrentPPO run (tensorboardX event file) shaped like the originating collapse."""
    steps, metrics = synthetic_collapse()
    write_run(tmp_path / "sweep" / "RecurrentPPO_1", "recurrent_ppo", steps, metrics)
    return tmp_path / "sweep"


# --- the originating case, end to end ------------------------------------------------------


def test_originating_collapse_end_to_end():
    result = analyze(COLLAPSE, "--format", "json")
    assert result.exit_code == 1
    (run,) = json.loads(result.stdout)["runs"]
    found = findings_by_code(run)
    kl = found["LRD001"]
    assert kl["severity"] == "error"
    assert kl["evidence"]["peak"] == pytest.approx(0.0334, abs=5e-6)
    assert kl["evidence"]["threshold"] == 0.02 and kl["evidence"]["percent_over"] == 67
    assert "GRU" in found["LRD002"]["message"] and "config.json" in found["LRD002"]["message"]
    assert "LRD004" in found
    assert found["LRD006"]["step"] < 4_000_000
    assert kl["caused_by"] == "LRD006" and found["LRD004"]["caused_by"] == "LRD006"
    assert run["verdict"] == "collapsed"
    assert run["architecture"]["kind"] == "gru" and run["architecture"]["recurrent"] is True


def test_originating_collapse_in_the_terminal_report():
    result = analyze(COLLAPSE)
    assert result.exit_code == 1
    text = result.stdout
    assert "collapsed" in text and "0.0334" in text and "constant 3e-04" in text
    assert text.index("LRD006 policy-collapse") < text.index("LRD001 kl-exceeded")
    assert "fix:" in text and "learning_rate=Schedule(" in text


def test_recommended_schedule_run_has_no_error():
    result = analyze(RECOMMENDED, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert all(finding["severity"] != "error" for finding in run["findings"])


def test_real_recurrent_ppo_run_is_read_and_its_constant_lr_flagged():
    # scripts/train_recurrent_ppo.py leaves learning_rate at RecurrentPPO's default, a
    # constant 3e-4, with an LSTM policy: whatever else the run shows, that is LRD002. Its
    # return climbs and its KL only spikes, so it is at risk, and LRD002 a warning (issue 15).
    (run,) = json_report(REAL)["runs"]
    assert run["library"] == "sb3" and run["step_axis"] == "env steps"
    assert run["architecture"]["kind"] == "lstm" and run["architecture"]["recurrent"] is True
    assert run["lr_shape"]["kind"] == "constant" and run["lr_shape"]["peak_lr"] == pytest.approx(3e-4)
    assert run["metrics"]["lr"]["tag"] == "train/learning_rate"
    assert run["metrics"]["entropy"] == {**run["metrics"]["entropy"], "tag": "train/entropy_loss", "negated": True}
    assert run["metrics"]["kl"]["estimator"] == "k3"
    assert findings_by_code(run)["LRD002"]["severity"] == "warning" and run["verdict"] == "at risk"


def test_markdown_report_of_the_collapse():
    result = analyze(COLLAPSE, "--format", "markdown")
    assert result.exit_code == 1
    assert result.stdout.startswith("# lrdoctor report")
    assert "**Problem:** policy collapse" in result.stdout
    assert "| 1 ultra-slow start |" in result.stdout and "```python" in result.stdout


def test_sarif_report_is_json_with_a_result_per_finding():
    document = json.loads(analyze(COLLAPSE, "--format", "sarif").stdout)
    expected = findings_by_code(json_report(COLLAPSE)["runs"][0])
    assert sorted(r["ruleId"] for r in document["runs"][0]["results"]) == sorted(expected)


# --- streams and exit codes -------------------------------------------------------------------


def test_json_on_stdout_is_clean_and_the_summary_goes_to_stderr():
    result = analyze(COLLAPSE, RECOMMENDED, "--format", "json")
    document = json.loads(result.stdout)  # nothing but the document on stdout
    assert len(document["runs"]) == 2
    assert "2 runs" in result.stderr and "collapsed" in result.stderr


def test_output_file_leaves_stdout_empty(tmp_path):
    target = tmp_path / "out" / "report.json"
    result = analyze(COLLAPSE, "--format", "json", "--output", target)
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(target.read_text())["runs"][0]["verdict"] == "collapsed"
    assert f"wrote {target}" in result.stderr


def test_text_report_to_a_file_is_plain_text(tmp_path):
    target = tmp_path / "report.txt"
    result = analyze(COLLAPSE, RECOMMENDED, "--output", target)
    assert result.exit_code == 1 and result.stdout == ""
    text = target.read_text()
    assert "\x1b[" not in text  # no colour codes in a file
    assert "graph_free_gru_recommended  ok  no problems found in the metrics" in text
    assert text.strip().splitlines()[-1].startswith("2 runs: 1 collapsed, 1 ok")


@pytest.mark.parametrize(("fail_on", "expected"), [("error", 1), ("warning", 1), ("never", 0)])
def test_fail_on_decides_the_exit_code(fail_on, expected):
    assert analyze(COLLAPSE, "--fail-on", fail_on, "--format", "json").exit_code == expected


def test_warnings_fail_only_at_fail_on_warning(collapse_dir):
    only_entropy = ["--select", "entropy-rising", "--format", "json"]
    assert analyze(COLLAPSE, *only_entropy).exit_code == 0
    assert analyze(COLLAPSE, *only_entropy, "--fail-on", "warning").exit_code == 1


def test_missing_path_is_one_line_and_exit_2(tmp_path):
    result = analyze(tmp_path / "nope")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "nope" in result.stderr


def test_a_directory_without_runs_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = analyze(tmp_path / "empty")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", [["--set", "kl-exceeded.threshold"], ["--set", "nosuchrule.x=1"], ["--tag", "kl"], ["--tag", "speed=x"]])
def test_bad_option_values_are_one_line_and_exit_2(bad):
    result = analyze(COLLAPSE, *bad)
    assert result.exit_code == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_format_is_a_usage_error():
    assert analyze(COLLAPSE, "--format", "yaml").exit_code == 2


# --- options reach the rules --------------------------------------------------------------------


def test_select_and_ignore_by_code_slug_and_prefix():
    assert set(findings_by_code(json_report(COLLAPSE, "--select", "kl-exceeded")["runs"][0])) <= {"LRD001", "LRD010"}
    ignored = findings_by_code(json_report(COLLAPSE, "--ignore", "LRD006", "--ignore", "entropy-rising")["runs"][0])
    assert "LRD006" not in ignored and "LRD004" not in ignored and "LRD001" in ignored
    assert findings_by_code(json_report(COLLAPSE, "--ignore", "LRD00")["runs"][0]).keys() <= {"LRD010", "LRD011", "LRD015"}


def test_set_raises_the_kl_threshold():
    # the run's own target_kl (0.02) is its threshold unless use_target_kl is switched off
    args = ["--set", "kl-exceeded.threshold=0.05", "--set", "kl-exceeded.use_target_kl=false"]
    assert "LRD001" not in findings_by_code(json_report(COLLAPSE, *args)["runs"][0])


def test_tag_maps_a_custom_tag_and_verbose_shows_it(tmp_path):
    steps, metrics = synthetic_collapse()
    write_tags(tmp_path / "custom", steps, {"my/kl": metrics["kl"], "train/learning_rate": metrics["lr"]})
    without = json_report(tmp_path / "custom")["runs"][0]
    assert "kl" not in without["metrics"] and "my/kl" in without["unknown_tags"]
    mapped = json_report(tmp_path / "custom", "--tag", "kl=my/kl")["runs"][0]
    assert mapped["metrics"]["kl"]["tag"] == "my/kl" and "LRD001" in findings_by_code(mapped)
    verbose = analyze(tmp_path / "custom", "--tag", "kl=my/kl", "--verbose").stdout
    assert "my/kl" in verbose


def test_arch_tells_the_architecture(tmp_path):
    steps, metrics = synthetic_collapse()
    write_run(tmp_path / "plain_run", "cleanrl", steps, metrics)
    run = json_report(tmp_path / "plain_run", "--arch", "gru")["runs"][0]
    assert run["architecture"]["kind"] == "gru" and "LRD002" in findings_by_code(run)


def test_parallel_reading_gives_the_same_report():
    serial = runner.invoke(app, ["analyze", str(SAMPLES), "--format", "json", "--jobs", "1"])
    parallel = runner.invoke(app, ["analyze", str(SAMPLES), "--format", "json", "--jobs", "2", "--no-cache"])
    assert json.loads(serial.stdout)["runs"] == json.loads(parallel.stdout)["runs"]


# --- read problems ---------------------------------------------------------------------------------


def test_read_problems_go_to_stderr_one_line_each(collapse_dir, tmp_path):
    event_file = next((collapse_dir / "RecurrentPPO_1").glob("events.out.tfevents.*"))
    truncate(event_file, 7)
    broken = collapse_dir / "broken"
    broken.mkdir()
    (broken / "events.out.tfevents.0.host").write_bytes(b"\xff" * 40)
    result = analyze(collapse_dir, "--format", "json")
    document = json.loads(result.stdout)
    problem_lines = [line for line in result.stderr.splitlines() if "read problem" in line]
    notes = document["problems"] + [note for run in document["runs"] for note in run["notes"]]
    assert len(problem_lines) == len(notes) >= 2
    assert any(event_file.name in line and "@ byte" in line for line in problem_lines)
    assert any("broken" in line for line in problem_lines)


# --- figures ---------------------------------------------------------------------------------------


def test_plots_one_figure_per_run_and_a_sweep_linked_from_markdown(collapse_dir, tmp_path):
    # a second argument holding a run of the same name: each run still gets its own figure
    steps, metrics = synthetic_collapse(n=60)
    write_run(tmp_path / "other" / "RecurrentPPO_1", "recurrent_ppo", steps, metrics)
    before = sorted(tmp_path.rglob("*"))
    report = tmp_path / "reports" / "report.md"
    figures = tmp_path / "figures"
    result = analyze(
        collapse_dir, tmp_path / "other", "--format", "markdown", "--output", report, "--plots", figures, "--plot-format", "svg"
    )
    assert result.exit_code == 1, result.stderr
    names = ["RecurrentPPO_1-2.svg", "RecurrentPPO_1.svg", "sweep.svg"]
    assert sorted(p.name for p in figures.iterdir()) == names
    written = set(tmp_path.rglob("*")) - set(before)
    allowed = (figures, report.parent, tmp_path / "cache")  # nothing beside the runs
    assert all(any(path.is_relative_to(place) for place in allowed) for path in written)
    text = report.read_text()
    for name in names:
        assert text.count(f"](../figures/{name})") == 1
        assert (report.parent / "../figures" / name).resolve().is_file()


def test_each_run_figure_draws_the_threshold_its_kl_was_judged_by(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from lrdoctor.report import figures as plots

    drawn = {}

    def record(result, *, schedule, kl_threshold):
        drawn[result.run.name] = kl_threshold
        return Figure()

    monkeypatch.setattr(plots, "run_figure", record)
    steps, metrics = synthetic_collapse(n=60)  # SYNTHETIC: KL peaks at 0.0334
    for name, config in {"own_target": {"target_kl": 0.05}, "own_target_exceeded": {"target_kl": 0.03}, "none": {}}.items():
        write_run(tmp_path / "sweep" / name, "recurrent_ppo", steps, metrics)
        (tmp_path / "sweep" / name / "config.json").write_text(json.dumps(config))
    result = analyze(tmp_path / "sweep", "--plots", tmp_path / "figures", "--format", "json")
    assert result.exit_code == 1, result.stderr
    # below its own target_kl: no LRD001 finding, yet the line is still the run's own 0.05, not the default
    assert drawn == {"own_target": 0.05, "own_target_exceeded": 0.03, "none": 0.02}


def test_matplotlib_is_not_imported_without_plots():
    code = (
        "import sys; from typer.testing import CliRunner; from lrdoctor.cli import app; "
        f"r = CliRunner().invoke(app, ['analyze', {str(COLLAPSE)!r}, '--format', 'json', '--jobs', '1', '--no-cache']); "
        "assert r.exit_code == 1, r.output; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_follows_reading_judging_and_drawing_on_a_terminal_only():
    from rich.console import Console

    from lrdoctor.cli.analyze import progress_bar

    terminal = Console(file=_Terminal(), force_terminal=True, width=80)
    seen = []
    with progress_bar(terminal) as stage:
        for name in ("reading runs", "judging runs", "drawing figures"):
            on_progress = stage(name)
            assert on_progress is not None  # ingest's on_progress(done, total) contract
            for done in range(1, 4):
                on_progress(done, 3)
            seen.append(name)
    shown = terminal.file.getvalue()
    assert all(name in shown for name in seen) and "3/3" in shown
    piped = Console(file=io.StringIO(), width=80)
    with progress_bar(piped) as stage:
        assert stage("reading runs") is None
    assert piped.file.getvalue() == ""


def test_runs_are_listed_worst_first_in_every_format():
    result = runner.invoke(app, ["analyze", str(SAMPLES), "--format", "json", "--fail-on", "never"])
    verdicts = [run["verdict"] for run in json.loads(result.stdout)["runs"]]
    assert verdicts == ["collapsed", "at risk", "ok"]
    text = runner.invoke(app, ["analyze", str(SAMPLES), "--fail-on", "never"]).stdout
    assert text.index("graph_free_gru_constant_lr") < text.index("RecurrentPPO_1") < text.index("graph_free_gru_recommended")


@pytest.mark.parametrize("width", ["80", "120"])
def test_the_report_at_80_columns_and_piped_cuts_no_name_or_code(width):
    result = runner.invoke(app, ["analyze", str(SAMPLES), "--fail-on", "never"], env={"COLUMNS": width})
    assert "…" not in result.stdout
    for code in ("LRD001", "LRD002", "LRD004", "LRD006"):
        assert code in result.stdout
    joined = "".join(result.stdout.split())
    assert "sb3_recurrentppo_cartpole/RecurrentPPO_1" in joined
