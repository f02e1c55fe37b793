"""What bad output targets get, through the real CLI (docs/bad-input.md).

An ``--output`` that is a directory, ``--plots`` into a file, or a report over a
training log is one ``lrdoctor: error:`` line and exit 2; no command writes into the
directories it reads; a failed or interrupted write leaves the previous file whole
and no partial one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bad_input import (
    analyze,
    error_line,
    lrdoctor,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
    tree,
)

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

    monkeypatch.setattr("lrdoctor.report.write.os.replace", disk_full)
    result = analyze(SAMPLES / "graph_free_gru_constant_lr", "--format", "json", "--output", report)
    assert result.exit_code == 2
    assert error_line(result) == f"lrdoctor: error: {report}: No space left on device"
    assert report.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["report.json"]


def test_an_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from lrdoctor.report.write import write_atomic

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr("lrdoctor.report.write.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "figure.png", b"\x89PNG" + bytes(1000))
    assert list(tmp_path.iterdir()) == []
