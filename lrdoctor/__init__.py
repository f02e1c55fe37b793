"""lrdoctor: find why a PPO run collapsed, and hand over the warmup schedule that fixes it."""

__version__ = "0.1.0"  # first: the cache keys its entries on it while the package loads

from lrdoctor.ingest import load_runs  # noqa: E402
from lrdoctor.schedule import Schedule  # noqa: E402

__all__ = ["Schedule", "load_runs"]
