"""Acceptance on the real SB3 sweep of tests/real_sweeps/ (its README says what drives it): the
learning rate, and only it, separates the collapsed runs; ent_coef varies without separating;
seeds never rank; the all-healthy sweep has no sick run; two seeds of one config differ in no
setting and part where the diff says."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app

SWEEPS = Path(__file__).resolve().parents[1] / "real_sweeps"
MAIN = sorted(p for p in SWEEPS.glob("lr=*") if p.is_dir())
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def main_report():
    result = invoke("analyze", *MAIN, "--format", "json", "--jobs", "1", "--no-cache")
    assert result.exit_code == 1, result.output  # the collapsed runs are errors
    return json.loads(result.stdout)


def test_learning_rate_ranks_first_with_its_counts(main_report):
    insight = main_report["insight"]
    assert insight["status"] == "separated" and insight["judged"] == 18 and insight["sick"] == 6
    first = insight["settings"][0]
    assert (first["setting"], first["rank"], first["status"]) == ("learning_rate", 1, "separates")
    assert first["sick_side"] == {"label": ">= 3e-02", "sick": 6, "runs": 6}
    assert first["other_side"] == {"label": "<= 3e-03", "sick": 0, "runs": 12}
    assert [(v["label"], v["sick"], v["runs"]) for v in first["values"]] == [
        ("3e-04", 0, 6), ("3e-03", 0, 6), ("3e-02", 6, 6)]
    assert first["p_adjusted"] < 0.01
    assert first["sources"] == ["PPO_1/config.yaml:8 learning_rate"] or first["sources"] == [
        "config.yaml:8 learning_rate"]  # the place in each run, without the run


def test_the_unrelated_flag_and_the_seed_do_not_rank(main_report):
    insight = main_report["insight"]
    ranked = [s["setting"] for s in insight["settings"] if s["rank"] is not None]
    assert ranked == ["learning_rate"]
    ent = next(s for s in insight["settings"] if s["setting"] == "ent_coef")
    assert ent["status"] == "does not separate" and ent["p_value"] == pytest.approx(1.0)
    assert [(v["sick"], v["runs"]) for v in ent["values"]] == [(3, 9), (3, 9)]
    assert "seed" not in {s["setting"] for s in insight["settings"]}
    assert {"setting": "seed", "values": 3, "why": "a seed: never a cause"} in insight["not_judged"]
    assert {"clip_range", "n_steps", "gamma", "architecture"} <= set(insight["constant"])
    assert insight["recommendations"] == [{"setting": "learning_rate", "label": "<= 3e-03", "sick": 0, "runs": 12}]


def test_every_run_carries_its_settings_with_sources(main_report):
    run = next(r for r in main_report["runs"] if r["name"].startswith("PPO_1") or "seed=101" in r["path"])
    assert run["settings"]["ent_coef"]["source"].endswith("config.yaml:9 ent_coef")
    assert run["settings"]["seed"]["value"] in (100, 101, 102)


def test_text_and_markdown_end_with_the_insight():
    text = invoke("analyze", *MAIN, "--jobs", "1").stdout
    section = text[text.index("sweep insight"):]
    assert "learning_rate >= 3e-02: 6/6 collapsed; <= 3e-03: 0/12" in section
    assert "vary without separating: ent_coef" in section and "not a cause: seed" in section
    md = invoke("analyze", *MAIN, "--format", "markdown", "--jobs", "1").stdout
    assert "## Sweep insight" in md and "| 1 | learning_rate | &gt;= 3e-02: 6/6 | &lt;= 3e-03: 0/12 |" in md


def test_without_configs_the_settings_come_from_the_run_names(tmp_path):
    for run in MAIN:  # the same event files, no config.yaml: lr=3e-2_ent=0.0_seed=100 alone says the settings
        (tmp_path / run.name / "PPO_1").mkdir(parents=True)
        for event_file in (run / "PPO_1").glob("events.out.tfevents.*"):
            (tmp_path / run.name / "PPO_1" / event_file.name).write_bytes(event_file.read_bytes())
    insight = json.loads(invoke("analyze", tmp_path, "--format", "json", "--jobs", "1", "--no-cache").stdout)["insight"]
    first = insight["settings"][0]
    assert (first["setting"], first["sick_side"]["sick"], first["sick_side"]["runs"]) == ("learning_rate", 6, 6)
    assert first["sources"] == ["directory name lr"]
    assert [s["setting"] for s in insight["settings"] if s["rank"]] == ["learning_rate"]
    assert insight["not_judged"] == [{"setting": "seed", "values": 3, "why": "a seed: never a cause"}]


def test_a_sweep_with_no_sick_run_says_so():
    result = invoke("analyze", SWEEPS / "all_healthy", "--format", "json", "--jobs", "1")
    insight = json.loads(result.stdout)["insight"]
    assert insight["status"] == "no sick run" and insight["sick"] == 0 and insight["recommendations"] == []
    text = invoke("analyze", SWEEPS / "all_healthy", "--jobs", "1").stdout
    assert "no sick run, nothing to separate" in text


def test_fewer_than_four_runs_have_no_insight_section():
    result = invoke("analyze", *MAIN[:3], "--format", "json", "--jobs", "1")
    assert json.loads(result.stdout)["insight"] is None


def test_diff_of_two_seeds_of_one_config(tmp_path):
    a, b = SWEEPS / "lr=3e-4_ent=0.0_seed=100", SWEEPS / "lr=3e-4_ent=0.0_seed=101"
    result = invoke("diff", a, b, "--plot", tmp_path / "diff.png")
    assert result.exit_code == 0, result.output
    assert "no setting differs but the seed; they part at 20.99K steps in entropy first" in result.stdout
    assert (tmp_path / "diff.png").stat().st_size > 10_000
    document = json.loads(invoke("diff", a, b, "--format", "json").stdout)
    assert document["settings_differ"] == [] and document["first"] == "entropy"
    assert [(s["setting"], s["a"]["value"], s["b"]["value"]) for s in document["seeds_differ"]] == [("seed", 100, 101)]
    kl = next(p for p in document["partings"] if p["metric"] == "kl")
    assert kl["step"] is None and kl["why"] == "within their noise throughout"


def test_diff_names_the_setting_that_differs_with_its_source():
    result = invoke("diff", SWEEPS / "lr=3e-4_ent=0.0_seed=100", SWEEPS / "lr=3e-2_ent=0.0_seed=100")
    assert "1 setting differs (learning_rate)" in result.stdout
    assert "learning_rate: A 3e-04 (PPO_1/config.yaml:8 learning_rate); B 3e-02 (PPO_1/config.yaml:8" in result.stdout


def test_diff_of_a_sweep_is_an_input_error(tmp_path):
    result = invoke("diff", SWEEPS / "all_healthy", MAIN[0])
    assert result.exit_code == 2 and "holds 4 runs" in result.output
    result = invoke("diff", MAIN[0], MAIN[1], "--plot", tmp_path / "diff.gif")
    assert result.exit_code == 2 and "--plot must end in .png, .svg or .pdf" in result.output
    result = invoke("diff", MAIN[0], MAIN[1], "--plot", MAIN[0] / "diff.png")
    assert result.exit_code == 2 and "never writes into its inputs" in result.output
    assert not (MAIN[0] / "diff.png").exists()
