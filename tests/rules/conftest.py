"""Fixtures for the rule tests: options from an empty configuration file, and the engine's findings."""

from __future__ import annotations

import pytest

from lrdoctor.model import Run
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options


@pytest.fixture
def options(tmp_path):
    """Options from an empty configuration file plus the given CLI-style values."""
    empty = tmp_path / "lrdoctor.toml"
    empty.write_text("")

    def make(**cli):
        return load_options(config=empty, **cli)

    return make


@pytest.fixture
def findings(options):
    """The findings of one run through the engine, keeping only ``code`` (and LRD010 when asked)."""

    def run(run: Run, code: str | None = None, **cli):
        found = engine.findings_for(run, options(**cli))
        return [f for f in found if code is None or f.code == code]

    return run
