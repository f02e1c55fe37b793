"""lrdoctor: find why a PPO run collapsed, and hand over the warmup schedule that fixes it.

``load_runs`` and ``Schedule`` are imported when first used: the command line must set up
the process (``cli.one_blas_thread``) before anything imports numpy."""

from lrdoctor.version import VERSION as __version__

__all__ = ["Schedule", "__version__", "load_runs"]


def __getattr__(name: str):
    if name == "load_runs":
        from lrdoctor.read.ingest import load_runs

        return load_runs
    if name == "Schedule":
        from lrdoctor.schedule import Schedule

        return Schedule
    raise AttributeError(f"module 'lrdoctor' has no attribute {name!r}")
