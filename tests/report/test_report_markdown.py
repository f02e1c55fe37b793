"""The Markdown reporter and the figure names it links to (synthetic results made by hand)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lrdoctor.model import (
    Architecture,
    Finding,
    LRShape,
    MetricSource,
    ReadNote,
    Run,
    RunConfig,
    RunResult,
    Severity,
    Sourced,
)
from lrdoctor.report import Report, figure_file_names
from lrdoctor.report.markdown import render
from lrdoctor.rules import prescription
from lrdoctor.words import format_lr, format_steps

STEPS = np.arange(0, 4_000_000, 40_000, dtype=np.int64)


def collapsed_run() -> RunResult:
    """SYNTHETIC: a GRU at a constant 3e-4 that collapsed; the KL message holds a pipe."""
    run = Run(
        name="sweep/graph_free",
        path=Path("runs/sweep/graph_free"),
        metrics={"lr": pd.Series(3e-4, index=STEPS), "kl": pd.Series(np.linspace(0.01, 0.0334, len(STEPS)), index=STEPS)},
        sources={"lr": MetricSource("train/learning_rate"), "kl": MetricSource("train/approx_kl", estimator="k3")},
        architecture=Architecture("gru", True, "graph_free", "config.yaml:3 rnn_type"),
        config=RunConfig(lr=Sourced(3e-4, "config.yaml:5"), total_steps=Sourced(20_000_000, "config.yaml:6")),
        lr_shape=LRShape("constant", 3e-4, 3e-4, 3e-4),
    )
    fix = prescription.fix_for(run)
    return RunResult(
        run,
        (
            Finding("LRD002", "constant-lr-recurrent", Severity.error, "constant LR 3e-04 on a GRU", evidence={"lr": 3e-4}, fix=fix),
            Finding("LRD006", "policy-collapse", Severity.error, "policy collapse from ~1.9M steps", step=1_900_000,
                    evidence={"onset_step": 1_900_000, "kl_peak": 0.0334}, fix=fix, caused_by="LRD002"),
            Finding("LRD001", "kl-exceeded", Severity.error, "KL | over 0.02", step=1_900_000,
                    evidence={"peak": 0.0334, "threshold": 0.02, "percent_over": 67}, fix=fix, caused_by="LRD006"),
        ),
    )


def healthy_run() -> RunResult:
    """SYNTHETIC: KL under the threshold, no findings."""
    run = Run(name="ok_run", path=Path("runs/ok_run"), metrics={"kl": pd.Series(0.005, index=STEPS)})
    return RunResult(run)


def section(text: str, run_name: str) -> str:
    start = text.index(f"## {run_name} ")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_rows(text: str, header: str) -> list[list[str]]:
    lines = text[text.index(header):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_problem_then_cause_then_findings_nested_under_their_cause():
    text = section(render(Report((collapsed_run(),))), "sweep/graph_free")
    assert text.index("**Problem:** policy collapse") < text.index("**Cause:** constant LR 3e-04 on a GRU")
    bullets = [line for line in text.splitlines() if line.lstrip().startswith("- `LRD")]
    assert [(len(b) - len(b.lstrip()), b.strip()[3:9]) for b in bullets] == [(0, "LRD002"), (2, "LRD006"), (4, "LRD001")]


def test_evidence_table_has_one_row_per_finding_with_its_numbers():
    text = render(Report((collapsed_run(),)))
    rows = table_rows(text, "| finding | step | evidence |")
    assert [row[0].split()[0] for row in rows] == ["`LRD002`", "`LRD006`", "`LRD001`"]
    kl_row = rows[2]
    assert kl_row[1] == format_steps(1_900_000)
    assert "peak 0.0334" in kl_row[2] and "percent_over 67" in kl_row[2]


def test_recommendation_table_holds_the_schedule_of_this_run_and_its_code():
    result = collapsed_run()
    text = render(Report((result,)))
    schedule = prescription.recommended_schedule(result.run)
    rows = table_rows(text, "| phase | steps | LR | expected KL |")
    assert len(rows) == len(schedule.phases)
    for row, phase in zip(rows, schedule.phases):
        assert row[0] == f"{phase.number} {phase.name}"
        assert row[1].endswith(format_steps(phase.end_step))
        assert row[2] == f"{format_lr(phase.start_lr)} → {format_lr(phase.end_lr)}"
    code = text[text.index("```python") : text.index("```", text.index("```python") + 3)]
    assert schedule.code()["sb3"] in code and schedule.code()["torch"] in code
    assert text.count("**Recommendation:**") == 1


def test_pipes_in_messages_do_not_break_tables_or_lists():
    text = render(Report((collapsed_run(),)))
    assert "KL \\| over 0.02" in text and "KL | over" not in text


def test_overview_table_lists_every_run_with_its_verdict():
    text = render(Report((collapsed_run(), healthy_run())))
    rows = table_rows(text, "| run | architecture | LR | peak KL | verdict |")
    assert [(row[0], row[-1]) for row in rows] == [("sweep/graph_free", "**collapsed**"), ("ok_run", "ok")]
    assert "67% over 0.02" in rows[0][3]


def test_no_problems_only_of_the_metrics_checked():
    text = section(render(Report((healthy_run(),))), "ok_run")
    assert "No problems found in the metrics: kl." in text
    empty = RunResult(Run(name="blank", path=Path("runs/blank"), unknown_tags=("x",)))
    assert "Nothing checked" in render(Report((empty,)))


def test_figures_are_embedded_with_the_links_given():
    report = Report(
        (collapsed_run(), healthy_run()),
        figures={"runs/sweep/graph_free": "figures/sweep__graph_free.png", "runs/ok_run": "figures/ok_run.png"},
        sweep_figure="figures/sweep.png",
    )
    text = render(report)
    assert "](figures/sweep.png)" in text
    assert "![sweep/graph_free](figures/sweep__graph_free.png)" in section(text, "sweep/graph_free")
    assert "![" not in render(Report((collapsed_run(),)))


def test_read_problems_are_listed_with_path_and_offset():
    text = render(Report((healthy_run(),), problems=(ReadNote("runs/a/events.out.tfevents.1", "corrupt record", 512),)))
    assert "- runs/a/events.out.tfevents.1 @ 512: corrupt record" in text
    result = healthy_run()
    result.run.notes = (ReadNote("runs/ok_run/events.out.tfevents.2", "truncated record", 99),)
    assert "- runs/ok_run/events.out.tfevents.2 @ 99: truncated record" in section(render(Report((result,))), "ok_run")


# --- figure file names ------------------------------------------------------------------


def test_figure_names_are_safe_unique_and_never_the_sweep():
    files = figure_file_names(["a/b", "a__b", "../up", "sweep", "Sweep", "ünï code:*?", "", "x" * 300], "png")
    assert len(set(f.lower() for f in files)) == len(files)
    assert "sweep.png" not in [f.lower() for f in files]
    for file in files:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.png", file) and not file.startswith(".") and len(file) < 140
    assert files[:2] == ["a__b.png", "a__b-2.png"] and len(files) == 8
