"""`lrdoctor plot-schedule` through the real CLI."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app

runner = CliRunner()


def test_table_lists_the_phases_with_their_numbers():
    result = runner.invoke(app, ["plot-schedule", "--base-lr", "1e-4", "--total-steps", "20M"])
    assert result.exit_code == 0
    for text in ("0 → 500K", "500K → 5M", "5M → 20M", "1e-06 → 1e-05", "1e-04 → 1e-05"):
        assert text in result.stdout


def test_json_points_hold_the_worked_example():
    result = runner.invoke(app, ["plot-schedule", "--base-lr", "1e-4", "--total-steps", "20M", "-f", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["parameters"]["total_steps"] == 20_000_000
    assert data["points"][0] == {"step": 0, "lr": 1e-06, "phase": 1}
    by_step = {p["step"]: p["lr"] for p in data["points"]}
    assert by_step[500_000] == 1e-5 and by_step[5_000_000] == 1e-4 and by_step[20_000_000] == 1e-5
    assert [p["name"] for p in data["phases"]] == ["ultra-slow start", "warmup ramp", "linear decay"]


def test_csv_to_file(tmp_path):
    target = tmp_path / "schedule.csv"
    result = runner.invoke(
        app, ["plot-schedule", "--base-lr", "1e-4", "--total-steps", "2e7", "-f", "csv", "--points", "5", "-o", str(target)]
    )
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert rows[0] == {"step": "0", "lr": "1e-06", "phase": "1"}
    assert {r["step"] for r in rows} >= {"500000", "5000000", "20000000"}


@pytest.mark.parametrize(
    "args, words",
    [
        (["--base-lr", "-1"], "base LR"),
        (["--total-steps", "abc"], "not a step count"),
        (["--slow-end", "0.5", "--ramp-end", "0.3"], "fractions"),
        (["--out", "schedule.txt"], "--out must end"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(args, words):
    result = runner.invoke(app, ["plot-schedule", *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert "Traceback" not in result.output
