"""The reference reader, for ``analyze --reader tbparse``: each event file read by tbparse
(tensorboard's own loader underneath), the library lrdoctor's own reader is tested against.

Why a user switches: to check a number against an independent reader, or to read a file
lrdoctor's reader refuses. It is far slower and never cached. The result has the shape of
``events.read_event_file``'s, so everything after reading is the same.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lrdoctor.read.events import EventData

INSTALL = "pip install 'lrdoctor[tbparse]'"


def available() -> bool:
    """Whether tbparse can be imported (an optional extra)."""
    try:
        import tbparse  # noqa: F401
    except ImportError:
        return False
    return True


def read_event_file(path: Path, want: re.Pattern[str] | None = None) -> EventData:
    """One event file through tbparse: the wanted scalar tags in file order, every scalar
    tag's name, the text summaries and the hparams plugin's values."""
    import numpy as np
    from tbparse import SummaryReader

    from lrdoctor.read.events import EventData  # here: a cached re-run loads no reader

    reader = SummaryReader(str(path), pivot=False)
    data = EventData(end_offset=Path(path).stat().st_size)
    scalars = reader.scalars
    if len(scalars):
        for tag, rows in scalars.groupby("tag", sort=False):
            data.scalar_tags.add(str(tag))
            if want is None or want.fullmatch(str(tag)):
                data.scalars[str(tag)] = (
                    rows["step"].to_numpy(dtype=np.int64),
                    rows["value"].to_numpy(dtype=np.float64),
                )
    texts = reader.text
    for tag, value in zip(texts.get("tag", ()), texts.get("value", ())):
        data.texts[str(tag)] = str(value)
    hparams = reader.hparams
    for tag, value in zip(hparams.get("tag", ()), hparams.get("value", ())):
        data.hparams[str(tag)] = value
    return data
