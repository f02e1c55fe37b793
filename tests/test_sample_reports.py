"""The reports of sample_logs/ are byte-identical to the golden copies in tests/golden/.

A refactoring leaves every format's output as it was; a change meant to alter a report
regenerates the copies (``python tests/test_sample_reports.py --write``) and says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
FORMATS = {"text": "sample_logs.txt", "json": "sample_logs.json", "markdown": "sample_logs.md", "sarif": "sample_logs.sarif"}


def report(fmt: str) -> str:
    from lrdoctor.cli import app

    cwd = os.getcwd()
    os.chdir(ROOT)  # run names and paths are relative to the argument, as a user types it
    try:
        result = CliRunner().invoke(app, ["analyze", "sample_logs", "--no-cache", "--format", fmt])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1, result.output  # the collapse is an error finding
    return result.stdout


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_sample_report_is_unchanged(fmt):
    assert report(fmt) == (GOLDEN / FORMATS[fmt]).read_text(encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    for fmt, name in FORMATS.items():
        (GOLDEN / name).write_text(report(fmt), encoding="utf-8")
