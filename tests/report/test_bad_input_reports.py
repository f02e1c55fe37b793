"""What bad values and hostile names do to the reports, through the real CLI (docs/bad-input.md).

NaN and Inf are logged data, never bare NaN tokens in JSON or SARIF; SARIF and
Markdown stay whole when every event file is damaged; control characters and
workflow commands in run, tag and file names never reach a report, or the read
problems on stderr, raw.
"""

from __future__ import annotations

import json
import re

import pytest
from bad_input import (
    EVENT_CASES,
    HOSTILE_NAME,
    HOSTILE_TEXT,
    analyze,
    assert_no_injected_line,
    assert_shown_safely,
    corpus_run,
    hostile_run,
    private_cache,  # noqa: F401 (autouse: every test here gets a cache of its own)
)

from lrdoctor.words import display

# --- values and damage ------------------------------------------------------------------


@pytest.mark.parametrize("report_format", ["json", "sarif"])
def test_nan_and_inf_values_are_data_and_the_report_stays_standard_json(tmp_path, report_format):
    """SYNTHETIC values: NaN and Inf are logged values (LRD007), never bare NaN tokens in the report."""
    from writers import write_tags

    steps = [0, 2048, 4096, 6144]
    write_tags(tmp_path / "run", steps, {
        "train/approx_kl": [0.01, float("nan"), float("inf"), 1e38],
        "train/learning_rate": [3e-4, float("-inf"), 3e-4, float("nan")],
        "train/entropy_loss": [float("nan")] * 4,
    })
    result = analyze(tmp_path / "run", "--format", report_format)
    assert result.exit_code == 1

    def refuse(constant):
        raise ValueError(f"not standard JSON: {constant}")

    report = json.loads(result.stdout, parse_constant=refuse)
    text = json.dumps(report)
    assert "LRD007" in text


def test_sarif_and_markdown_stay_whole_when_every_file_is_damaged(tmp_path):
    for case, _, _ in EVENT_CASES:
        corpus_run(case, tmp_path / case)
    sarif = analyze(tmp_path, "--format", "sarif")
    assert sarif.exit_code in (0, 1)
    assert json.loads(sarif.stdout)["version"] == "2.1.0"
    markdown = analyze(tmp_path, "--format", "markdown")
    assert markdown.exit_code == sarif.exit_code and markdown.stdout.startswith("#")


# --- names chosen by whoever made the files ---------------------------------------------


def test_control_characters_in_names_never_reach_stderr_raw(tmp_path):
    run = corpus_run("truncated_tail", tmp_path / HOSTILE_NAME)
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code in (0, 1)
    assert_no_injected_line(result.stderr)
    assert "run\\n::error file=train.py::injected\\x1b[31m/events.out.tfevents." in result.stderr
    (reported,) = json.loads(result.stdout)["runs"]
    assert reported["name"] == "run\\n::error file=train.py::injected\\x1b[31m"
    assert reported["path"] == str(run)  # the real path stays exact in machine output


@pytest.mark.parametrize("report_format", ["text", "markdown"])
def test_control_characters_in_names_never_reach_the_reports_raw(tmp_path, report_format):
    run = corpus_run("truncated_tail", tmp_path / HOSTILE_NAME)
    (run / "config.yaml").write_text("policy: MlpLstmPolicy\n")
    result = analyze(tmp_path, "--format", report_format, "--verbose")
    assert result.exit_code in (0, 1)
    assert_no_injected_line(result.stdout)
    assert "MlpLstmPolicy" in result.stdout  # the config beside the run was read


def test_control_characters_in_tag_names_never_reach_the_text_report_raw(tmp_path):
    """Tag names are written by whoever wrote the logs (tensorboard's writer keeps them verbatim)."""
    from writers import write_tags_verbatim

    write_tags_verbatim(tmp_path / "run", [0, 1, 2], {"train/approx_kl": [0.01] * 3, HOSTILE_NAME: [1.0] * 3})
    result = analyze(tmp_path / "run", "--verbose")
    assert result.exit_code in (0, 1)
    assert_no_injected_line(result.stdout)
    assert "run\\n::error file=train.py::injected\\x1b[31m" in result.stdout


# --- every class of untrusted text, in every format ---------------------------------------
# A run directory, a tag and the architecture named in the run's config all hold HOSTILE_TEXT.

SHOWN = display(HOSTILE_TEXT)  # what a person reads of it: every character, escaped


def test_hostile_text_in_the_text_report(tmp_path):
    hostile_run(tmp_path)
    result = analyze(tmp_path, "--verbose")
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)
    assert_shown_safely(result.stderr)
    assert "\\u202egnp.exe\\u2069 z\\u200bw\\u200d\\u2060\\ufeff" in result.stdout
    assert f'recurrent GRU policy "{SHOWN}"' in " ".join(result.stdout.split())  # the config's name, in a message


def test_hostile_text_in_the_markdown_report(tmp_path):
    hostile_run(tmp_path)
    result = analyze(tmp_path, "--format", "markdown", "--verbose")
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)
    assert not re.search(r"<[A-Za-z/!?]", result.stdout)  # no HTML tag, comment or declaration
    assert "&lt;script&gt;alert(1)&lt;img src=x onerror=alert(2)&gt;" in result.stdout
    assert "](javascript:" not in result.stdout.replace("\\](javascript:", "")  # no link is made
    header, rule, row = [line for line in result.stdout.splitlines() if line.startswith("|")][:3]
    cells = lambda line: len(re.split(r"(?<!\\)\|", line))  # noqa: E731 -- unescaped pipes only
    assert cells(row) == cells(header) == 7  # the name's pipes and backticks open no new cell
    assert not any(line.startswith("::") for line in result.stdout.splitlines())


def test_hostile_text_in_the_json_report_is_exact(tmp_path):
    run = hostile_run(tmp_path)
    result = analyze(tmp_path, "--format", "json")
    assert result.exit_code == 1
    assert_shown_safely(result.stdout)  # json.dumps escapes every control and non-ASCII character
    (reported,) = json.loads(result.stdout)["runs"]
    assert reported["path"] == str(run)
    assert reported["architecture"]["name"] == HOSTILE_TEXT
    assert HOSTILE_TEXT in reported["unknown_tags"]
    assert reported["name"] == "run" + SHOWN  # discovery names a run as it prints it


def test_hostile_text_in_the_sarif_report(tmp_path):
    hostile_run(tmp_path)
    result = analyze(tmp_path, "--format", "sarif")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    messages = [r["message"]["text"] for r in document["runs"][0]["results"]]
    for message in messages:
        assert_shown_safely(message)
    assert any(f'"{SHOWN}"' in message for message in messages)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]]
    assert all(re.fullmatch(r"[A-Za-z0-9%/._~:-]+", uri) for uri in uris), uris  # percent-encoded


def test_hostile_text_in_figures(tmp_path):
    """A ``$`` in a name is a dollar sign, not mathtext (an unknown command there once ended
    --plots with an internal error); an SVG stays XML whatever the name holds."""
    import xml.dom.minidom

    hostile_run(tmp_path / "runs")
    math = corpus_run("truncated_tail", tmp_path / "runs" / "m$\\undefinedcmd{x}$")
    (math / "config.json").write_text(json.dumps({"architecture": "$\\frac{1}$", "rnn_type": "gru"}))
    result = analyze(tmp_path / "runs", "--plots", tmp_path / "plots", "--plot-format", "svg")
    assert result.exit_code == 1, result.stderr
    drawn = sorted((tmp_path / "plots").glob("*.svg"))
    assert len(drawn) == 3  # both runs and the sweep
    for figure in drawn:
        xml.dom.minidom.parse(str(figure))
