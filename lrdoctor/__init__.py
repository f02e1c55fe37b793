"""lrdoctor: find why a PPO run collapsed, and hand over the warmup schedule that fixes it."""

from lrdoctor.ingest import load_runs
from lrdoctor.schedule import Schedule

__all__ = ["Schedule", "load_runs"]
__version__ = "0.1.0"
