"""A local analysis loads nothing of the object-storage or cluster extras: fsspec, its backends
and Dask are imported only for a URL or --scheduler/--cluster (checked by module, never by the
clock). Runs whether or not the extras are installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"

NOTHING_REMOTE = """
import sys
from lrdoctor.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_a_local_analysis_imports_neither_fsspec_nor_dask(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", NOTHING_REMOTE, "analyze", str(SAMPLES), "--jobs", "2",
         "-o", str(tmp_path / "report")],
        capture_output=True, text=True, check=False, env={**os.environ, "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")},
    )
    modules = set(done.stderr.strip().splitlines()[-1].split())
    assert "lrdoctor.read.ingest" in modules  # proof the list is of a real analysis
    assert not {"fsspec", "s3fs", "dask", "distributed", "lrdoctor.read.cluster"} & modules
