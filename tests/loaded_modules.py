"""Which modules a command loads, listed by a fresh interpreter: the structural checks of what
is imported when (a cached re-run loads no pandas, a local analysis no Dask), never timed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_LIST_MODULES = """
import sys
from lrdoctor.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""
ROOT = Path(__file__).resolve().parents[1]


def modules_loaded_by(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded in one process by ``lrdoctor ARGS`` (run through the app, so what a
    worker would load is loaded where it is listed when ``--jobs 1``)."""
    done = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, *args],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert "lrdoctor: error" not in done.stderr, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split())
