"""LRD016 config-not-understood: what a unit's reader could not understand is a finding, never silence."""

from __future__ import annotations

from typer.testing import CliRunner

from lrdoctor.check import check_text
from lrdoctor.cli import app
from lrdoctor.rules.options import default_options

UNKNOWN_SCHEDULE = "model:\n  rnn_type: lstm\nlearning_rate: 3.0e-4\nlr_schedule: my_custom_thing\n"
FEED_FORWARD_UNRESOLVED = "model:\n  type: mlp\nlearning_rate: ${resolve_default:3e-4}\nlr_schedule: linear\n"
RECURRENT_UNRESOLVED = "model:\n  type: gru\nlearning_rate: ${resolve_default:3e-4}\nlr_schedule: linear\n"


def codes(text: str):
    return sorted((f.code, f.line, f.severity.value) for f in check_text("t.yaml", text, default_options()).findings)


def test_an_unknown_schedule_on_a_recurrent_unit_is_an_info_finding_at_its_key():
    assert codes(UNKNOWN_SCHEDULE) == [("LRD016", 4, "info")]


def test_an_unresolved_lr_on_a_recurrent_unit_is_reported_and_on_a_feed_forward_one_is_not():
    assert ("LRD016", 3, "info") in codes(RECURRENT_UNRESOLVED)
    assert codes(FEED_FORWARD_UNRESOLVED) == []


def test_strict_makes_it_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(UNKNOWN_SCHEDULE)
    runner = CliRunner()
    assert runner.invoke(app, ["check", "t.yaml"]).exit_code == 0
    strict = runner.invoke(app, ["check", "--strict", "--format", "concise", "t.yaml"])
    assert strict.exit_code == 1 and " LRD016 error " in strict.stdout
