"""The terminal reporter and the cause-first ordering it shares (synthetic results made by hand)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from lrdoctor.model import (
    Architecture,
    Finding,
    LRShape,
    MetricSource,
    Run,
    RunConfig,
    RunResult,
    Severity,
    Sourced,
)
from lrdoctor.report import Report, cause_first, peak
from lrdoctor.report.text import BLOCKS, NON_FINITE_MARK, SummaryTable, render, sparkline
from lrdoctor.rules import prescription
from lrdoctor.words import format_lr, format_steps, number

STEPS = np.arange(0, 4_000_000, 40_000, dtype=np.int64)


def finding(code, severity=Severity.error, caused_by=None, step=None, **evidence) -> Finding:
    return Finding(code, code.lower(), severity, f"message of {code}", step=step, evidence=evidence, caused_by=caused_by)


def collapsed_run() -> RunResult:
    """SYNTHETIC: a GRU at a constant 3e-4 whose KL climbs past 0.02 to a peak of 0.0334."""
    kl = pd.Series(np.linspace(0.01, 0.03, len(STEPS)), index=STEPS)
    kl.iloc[70] = 0.0334
    run = Run(
        name="graph_free_gru",
        path=Path("runs/graph_free_gru"),
        metrics={"lr": pd.Series(3e-4, index=STEPS), "kl": kl, "entropy": pd.Series(1.0, index=STEPS)},
        sources={
            "lr": MetricSource("train/learning_rate"),
            "kl": MetricSource("train/approx_kl", estimator="k3"),
            "entropy": MetricSource("train/entropy_loss", negated=True),
        },
        step_axis="env steps",
        library="sb3",
        architecture=Architecture("gru", True, "graph_free", "config.yaml:3 rnn_type"),
        config=RunConfig(lr=Sourced(3e-4, "config.yaml:5"), total_steps=Sourced(20_000_000, "config.yaml:6")),
        lr_shape=LRShape("constant", 3e-4, 3e-4, 3e-4),
        unknown_tags=("time/fps", "custom/thing"),
    )
    fix = prescription.fix_for(run)
    return RunResult(
        run,
        (
            Finding("LRD002", "constant-lr-recurrent", Severity.error, "constant LR on a GRU", evidence={"lr": 3e-4}, fix=fix),
            Finding("LRD006", "policy-collapse", Severity.error, "the policy collapsed", step=1_900_000,
                    evidence={"onset_step": 1_900_000}, fix=fix, caused_by="LRD002"),
            Finding("LRD001", "kl-exceeded", Severity.error, "KL went over", step=1_900_000,
                    evidence={"peak": 0.0334, "threshold": 0.02, "percent_over": 67, "cause_text": "x" * 80},
                    fix=fix, caused_by="LRD006"),
            Finding("LRD004", "entropy-rising", Severity.warning, "entropy rose", step=2_700_000, caused_by="LRD006"),
            Finding("LRD010", "metric-missing", Severity.info, "no episode return logged: entropy-rising partly checked"),
        ),
    )


def healthy_run(**extra) -> RunResult:
    """SYNTHETIC: KL well under the threshold all along."""
    run = Run(name="cleanrl_seed_1", path=Path("runs/cleanrl_seed_1"),
              metrics={"kl": pd.Series(0.008, index=STEPS)}, sources={"kl": MetricSource("losses/approx_kl", estimator="k3")})
    return RunResult(run, **extra)


def lines_of(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


# --- cause first -----------------------------------------------------------------------


def test_causes_come_before_what_they_explain_at_increasing_depth():
    findings = [
        finding("LRD001", caused_by="LRD006"),
        finding("LRD004", Severity.warning, caused_by="LRD006"),
        finding("LRD006", caused_by="LRD002"),
        finding("LRD002"),
    ]
    assert [(depth, f.code) for depth, f in cause_first(findings)] == [
        (0, "LRD002"), (1, "LRD006"), (2, "LRD001"), (2, "LRD004"),
    ]


def test_a_cause_named_by_slug_is_found_and_an_unknown_cause_stays_visible():
    findings = [finding("LRD001", caused_by="lrd006"), finding("LRD006"), finding("LRD004", caused_by="LRD999")]
    ordered = [(depth, f.code) for depth, f in cause_first(findings)]
    assert (1, "LRD001") in ordered and (0, "LRD004") in ordered and len(ordered) == 3


def test_a_loop_of_causes_loses_no_finding():
    findings = [finding("LRD001", caused_by="LRD006"), finding("LRD006", caused_by="LRD001")]
    assert sorted(f.code for _, f in cause_first(findings)) == ["LRD001", "LRD006"]


def test_roots_by_severity_then_by_how_much_they_explain():
    findings = [
        finding("LRD008", Severity.warning),
        finding("LRD007"),
        finding("LRD002"),
        finding("LRD001", caused_by="LRD002"),
    ]
    assert [f.code for depth, f in cause_first(findings) if depth == 0] == ["LRD002", "LRD007", "LRD008"]


# --- the report --------------------------------------------------------------------------


def test_summary_table_names_architecture_source_lr_shape_peak_and_verdict():
    text = render(Report((collapsed_run(), healthy_run())))
    row = lines_of(text, "graph_free_gru")[0]
    top = peak(collapsed_run().run.metrics.points("kl"))
    assert top.value == 0.0334
    assert "collapsed" in row and number(top.value) in row and "constant 3e-04" in row and "gru (graph_free)" in row
    assert f"@ {format_steps(top.step)}" in text
    assert "config.yaml:3 rnn_type" in text


def table_at(width: int, report: Report) -> str:
    console = Console(width=width, color_system=None, force_terminal=False)
    with console.capture() as captured:
        console.print(SummaryTable(report))
    return captured.get()


def run_column(table: str) -> str:
    """The run column's cells, read top to bottom and joined: what a reader sees of the names."""
    lines = table.splitlines()
    header = next(line for line in lines if " verdict " in line)
    start, end = header.index("run"), header.index("verdict")
    return "".join(line[start:end].strip() for line in lines[lines.index(header) + 2 :])


@pytest.mark.parametrize("width", [200, 120, 100, 80, 60])
def test_no_run_name_is_ever_cut_at_any_width(width):
    """Long names fold (after their slashes where they can), never lose a character."""
    names = ["sb3_recurrentppo_cartpole/RecurrentPPO_1", "a_very_long_sweep_name/lr_3e-4_seed_101_gru_constant"]
    results = [replace(r, run=replace(r.run, name=n)) for r, n in zip((collapsed_run(), healthy_run()), names)]
    table = table_at(width, Report(tuple(results)))
    assert "…" not in table
    assert all(len(line) <= width for line in table.splitlines())
    for name in names:
        assert name in run_column(table)


def test_a_long_name_folds_after_its_slash():
    name = "sb3_recurrentppo_cartpole/RecurrentPPO_1"
    long_named = replace(collapsed_run(), run=replace(collapsed_run().run, name=name))
    report = Report((long_named, healthy_run()))
    assert lines_of(render(report), name)  # 120 columns: the whole name on one line
    assert lines_of(table_at(80, report), "RecurrentPPO_1")[0].split()[0] == "RecurrentPPO_1"


def test_on_an_80_column_terminal_the_sparklines_go_before_the_lr_and_architecture_do():
    name = "sb3_recurrentppo_cartpole/RecurrentPPO_1"
    long_named = replace(collapsed_run(), run=replace(collapsed_run().run, name=name))
    report = Report((long_named, healthy_run()))
    for wide in (160, 120):  # 120: a report written to a file
        assert any(block in table_at(wide, report) for block in BLOCKS)  # the KL's shape is shown
    narrow = table_at(80, report)
    assert not any(block in narrow for block in BLOCKS)
    row = lines_of(narrow, "collapsed")[0]
    assert "0.0334" in row and "constant" in row and "gru" in row
    assert "RecurrentPPO_1" in run_column(narrow)


def test_the_peak_kl_and_its_step_share_a_line_when_the_table_fits():
    top = peak(collapsed_run().run.metrics.points("kl"))
    report = Report((collapsed_run(), healthy_run()))
    assert f"{number(top.value)} @ {format_steps(top.step)}" in table_at(160, report)
    assert f"{number(top.value)} @" not in table_at(90, report)  # too narrow: the step goes under it


def test_the_cause_is_the_headline_and_its_consequences_are_indented_under_it():
    text = render(Report((collapsed_run(),)))
    position = {code: text.index(code + " ") for code in ("LRD002", "LRD006", "LRD001", "LRD004")}
    assert position["LRD002"] < position["LRD006"] < position["LRD001"] < position["LRD004"]
    indent = {code: len(line) - len(line.lstrip(" │├└─")) for code in position for line in lines_of(text, code + " ")[-1:]}
    assert indent["LRD002"] < indent["LRD006"] < indent["LRD001"] == indent["LRD004"]


def test_evidence_numbers_are_shown_with_verbose_and_long_words_left_to_json():
    text = render(Report((collapsed_run(),), verbose=True))
    assert "peak 0.0334" in text and "percent_over 67" in text and "threshold 0.02" in text
    assert "x" * 80 not in text


def test_without_verbose_a_finding_is_its_message_step_and_fix():
    result = collapsed_run()
    text = render(Report((result,)))
    assert "percent_over" not in text and "threshold 0.02" not in text
    for found in result.findings:
        assert found.message in " ".join(text.split()) or found.message in text
    assert "fix: " in text and "LRD006 policy-collapse @ 1.9M" in text


def test_the_fix_lists_the_schedule_phases_and_a_whole_line_of_code():
    result = collapsed_run()
    text = render(Report((result,)))
    schedule = prescription.recommended_schedule(result.run)
    for phase in schedule.phases:
        row = lines_of(text, phase.name)[0]
        assert f"{format_lr(phase.start_lr)} → {format_lr(phase.end_lr)}" in row
        assert format_steps(phase.end_step) in row
    sb3 = schedule.code()["sb3"]
    assert any(line.strip() == f"sb3: {sb3}" for line in text.splitlines())
    assert text.count("fix:") == 1  # three findings carry the same prescription: shown once


def test_no_problems_is_said_only_of_the_metrics_checked():
    text = render(Report((healthy_run(),)))
    assert "no problems found in the metrics: kl" in text
    unchecked = healthy_run(findings=(Finding("LRD010", "metric-missing", Severity.info, "no entropy logged: entropy-rising not checked"),))
    text = render(Report((unchecked,)))
    assert "no problems found in the metrics that could be checked: kl" in text
    assert "not checked: no entropy logged" in text


def test_a_run_with_no_known_metric_is_never_called_healthy():
    empty = RunResult(Run(name="mystery", path=Path("runs/mystery"), unknown_tags=("a", "b", "c")))
    text = render(Report((empty,)))
    assert "unchecked" in text and "nothing checked: none of the 3 logged tags" in text
    assert "no problems" not in text and " ok" not in text


def test_verbose_lists_the_tag_of_each_metric_and_the_unknown_tags():
    quiet = render(Report((collapsed_run(),)))
    loud = render(Report((collapsed_run(),), verbose=True))
    assert "custom/thing" not in quiet
    assert "unknown tags (2): time/fps, custom/thing" in loud
    entropy_row = lines_of(loud, "train/entropy_loss")[0]
    assert "entropy" in entropy_row and "negated" in entropy_row
    assert "k3" in lines_of(loud, "train/approx_kl")[0]


def test_names_are_printed_as_written_not_as_markup():
    odd = RunResult(Run(name="[bold]run[/bold]", path=Path("x"), metrics={"kl": pd.Series([0.01], index=[0])}))
    assert "[bold]run[/bold]" in render(Report((odd,)))


def test_totals_count_verdicts_and_findings():
    last = render(Report((collapsed_run(), healthy_run()))).strip().splitlines()[-1]
    assert last.startswith("2 runs: 1 collapsed, 1 ok")
    assert "3 error, 1 warning, 1 info" in last


# --- sparkline -----------------------------------------------------------------------------


def test_sparkline_rises_with_the_series_and_marks_bins_over_the_threshold():
    line = sparkline((np.arange(400) * 1000, np.linspace(0.0, 0.04, 400)), threshold=0.02, width=16)
    levels = [BLOCKS.index(char) for char in line.plain]
    assert len(levels) == 16 and levels == sorted(levels) and levels[-1] == len(BLOCKS) - 1
    red = {span.start for span in line.spans if "red" in str(span.style)}
    assert red == {i for i in range(16) if i >= 8}


def test_sparkline_of_a_run_under_threshold_stays_low():
    line = sparkline((np.arange(50), np.full(50, 0.005)), threshold=0.02, width=10)
    assert set(line.plain) == {BLOCKS[1]}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_sparkline_marks_non_finite_bins(bad):
    values = np.full(100, 0.01)
    values[95] = bad
    line = sparkline((np.arange(100), values), threshold=0.02, width=10)
    assert line.plain[-1] == NON_FINITE_MARK and NON_FINITE_MARK not in line.plain[:-1]


def test_sparkline_of_a_short_series_has_one_block_per_point():
    assert len(sparkline((np.arange(3), np.array([0.01, 0.02, 0.03])), threshold=0.02).plain) == 3
