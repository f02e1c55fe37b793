"""A local analysis loads nothing of the object-storage or cluster extras: fsspec, its backends
and Dask are imported only for a URL or --scheduler/--cluster (checked by module, never by the
clock). Runs whether or not the extras are installed; where fsspec is missing is played by a
stand-in package that refuses to import, ahead of the real one on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.loaded_modules import ROOT, modules_loaded_by

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
EXTRAS = {"fsspec", "s3fs", "gcsfs", "adlfs", "dask", "distributed", "lrdoctor.read.cluster"}


def test_a_local_analysis_imports_neither_fsspec_nor_dask(tmp_path):
    modules = modules_loaded_by("analyze", str(SAMPLES), "--jobs", "2", "-o", str(tmp_path / "report"),
                                env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.read.ingest" in modules  # proof the list is of a real analysis
    assert not EXTRAS & modules


def test_a_local_watch_imports_no_fsspec(tmp_path):
    modules = modules_loaded_by("watch", str(SAMPLES), "--once", env={"LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert "lrdoctor.live.watch" in modules and "lrdoctor.read.remote" in modules  # the URL code is there, idle
    assert not EXTRAS & modules


def without_fsspec(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``import fsspec`` fails, as where it is not installed."""
    blocker = tmp_path / "no-fsspec" / "fsspec"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('fsspec is not installed here', name='fsspec')\n")
    return {"PYTHONPATH": f"{blocker.parent}{os.pathsep}{ROOT}", "LRDOCTOR_CACHE_DIR": str(tmp_path / "cache")}


def test_without_fsspec_a_local_analysis_works_and_a_url_names_the_extra(tmp_path):
    env = without_fsspec(tmp_path)
    modules = modules_loaded_by("analyze", str(SAMPLES), "-o", str(tmp_path / "report"), env=env)
    assert "lrdoctor.read.ingest" in modules and not EXTRAS & modules
    for command in (["analyze"], ["watch", "--once"]):
        done = subprocess.run([sys.executable, "-m", "lrdoctor", *command, "s3://bucket/sweep"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, **env})
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            "lrdoctor: error: s3://bucket/sweep: reading s3:// needs its fsspec backend (fsspec):"
            " pip install 'lrdoctor[s3]'"]
