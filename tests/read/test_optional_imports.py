"""A local analysis loads nothing of the object-storage or cluster extras: fsspec, its backends
and Dask are imported only for a URL or --scheduler/--cluster (checked by module, never by the
clock). Runs whether or not the extras are installed."""

from __future__ import annotations

from pathlib import Path

from tests.loaded_modules import modules_loaded_by

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def test_a_local_analysis_imports_neither_fsspec_nor_dask(tmp_path):
    modules = modules_loaded_by("analyze", str(SAMPLES), "--jobs", "2", "-o", str(tmp_path / "report"),
                                env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.read.ingest" in modules  # proof the list is of a real analysis
    assert not {"fsspec", "s3fs", "dask", "distributed", "lrdoctor.read.cluster"} & modules
