"""lrdoctor: find why a PPO run collapsed, and hand over the warmup schedule that fixes it."""

from lrdoctor.read.ingest import load_runs
from lrdoctor.schedule import Schedule
from lrdoctor.version import VERSION as __version__

__all__ = ["Schedule", "__version__", "load_runs"]
