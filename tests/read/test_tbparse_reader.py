"""``analyze --reader tbparse``: the same report from the reference reader as from lrdoctor's
own, on the synthetic samples and on every real library run; a clear line when it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrdoctor.cli import app
from lrdoctor.read import tbparse_reader

ROOT = Path(__file__).parents[2]
runner = CliRunner()


@pytest.mark.parametrize("logs", [ROOT / "sample_logs", ROOT / "tests" / "real_runs"], ids=["samples", "real_runs"])
def test_the_reference_reader_gives_the_same_report(logs, tmp_path, monkeypatch):
    pytest.importorskip("tbparse")
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    own = runner.invoke(app, ["analyze", str(logs), "--format", "json", "--jobs", "1"])
    reference = runner.invoke(app, ["analyze", str(logs), "--format", "json", "--jobs", "1", "--reader", "tbparse"])
    assert own.exit_code == reference.exit_code and own.exit_code in (0, 1), reference.stderr
    assert '"findings"' in own.stdout and reference.stdout == own.stdout


def test_the_reference_reader_never_serves_the_cache(tmp_path, monkeypatch):
    pytest.importorskip("tbparse")
    monkeypatch.setenv("LRDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    runner.invoke(app, ["analyze", str(ROOT / "sample_logs"), "--format", "json", "--jobs", "1"])
    read = []
    original = tbparse_reader.read_event_file
    monkeypatch.setattr(tbparse_reader, "read_event_file", lambda path, want=None: read.append(path) or original(path, want))
    result = runner.invoke(app, ["analyze", str(ROOT / "sample_logs"), "--jobs", "1", "--reader", "tbparse"])
    assert result.exit_code == 1 and len(read) == 3  # every event file read again, by tbparse


def test_without_tbparse_it_is_one_line_and_exit_2(monkeypatch):
    monkeypatch.setattr(tbparse_reader, "available", lambda: False)
    result = runner.invoke(app, ["analyze", str(ROOT / "sample_logs"), "--reader", "tbparse"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "lrdoctor: error: --reader tbparse: tbparse is not installed (pip install 'lrdoctor[tbparse]')"
    ]


def test_it_reads_local_paths_only():
    result = runner.invoke(app, ["analyze", "s3://bucket/sweep", "--reader", "tbparse"])
    assert result.exit_code == 2 and "--reader tbparse reads local paths only" in result.stderr
