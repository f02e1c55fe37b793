"""The reader of SB3's progress.csv (its CSV logger), the other source a run can have.

It is the only reader that needs pandas (``read_csv`` copes with ragged rows and
quoting), so it is imported only when a run without event files is actually read.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from lrdoctor.configs.loaders import open_regular
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import Points, ReadNote
from lrdoctor.read.normalise import merge_files
from lrdoctor.words import display

# SB3 writes one row per rollout: even 1e9 steps of 128-step rollouts is ~100 MB with
# SB3's columns; a bigger file is not a progress.csv and would only exhaust memory.
MAX_CSV_BYTES = 256 << 20
STEP_COLUMN = "time/total_timesteps"  # SB3's progress.csv: the env-step counter of each row


def read_progress_csv(path: Path, want) -> tuple[dict[str, Points], set[str], list[ReadNote]]:
    """SB3's CSV logger: one row per dump, blank where a key was not recorded that time.
    Blank cells are "not logged"; a written nan stays NaN (data); a cell that is no
    number at all ("abc") is skipped and noted, never turned into a NaN."""
    notes: list[ReadNote] = []
    frame, incomplete = _csv_frame(path)
    frame = frame.fillna("")  # a short row leaves its last cells missing: not logged
    notes.extend([incomplete] if incomplete else [])
    if STEP_COLUMN not in frame.columns:
        raise UnreadableFile(path, f"no {STEP_COLUMN} column to use as the step")
    steps_all = _numbers(frame[STEP_COLUMN])
    with np.errstate(invalid="ignore"):
        # a step must be a whole number int64 holds: casting inf or 1e30 would invent one
        has_step = np.isfinite(steps_all) & (steps_all == np.floor(steps_all)) & (np.abs(steps_all) < 2.0**63)
    all_tags = {c for c in frame.columns if c != STEP_COLUMN}
    scalars: dict[str, Points] = {}
    not_numbers: dict[str, int] = {}
    for column in sorted(t for t in all_tags if want.fullmatch(t)):
        cells = frame[column].str.strip()
        values = _numbers(cells)
        written = has_step & (cells != "").to_numpy()
        number = ~np.isnan(values) | cells.str.lower().isin(NAN_SPELLINGS).to_numpy()
        if (written & ~number).any():
            not_numbers[column] = int((written & ~number).sum())
        use = written & number
        scalars[column] = merge_files([{column: (steps_all[use].astype(np.int64), values[use])}])[column]
    where = display(str(path))
    if (~has_step).any():
        notes.append(ReadNote(where, f"{int((~has_step).sum())} rows without a whole-number {STEP_COLUMN} skipped"))
    if not_numbers:
        counts = ", ".join(f"{column}: {count}" for column, count in not_numbers.items())
        notes.append(ReadNote(where, f"cells that are not numbers skipped ({counts})"))
    return scalars, all_tags, notes


NAN_SPELLINGS = ("nan", "-nan", "+nan")


def _numbers(cells: pd.Series) -> np.ndarray:
    """Cells as float64; blank or not a number -> NaN (callers tell a written nan apart)."""
    stripped = cells.str.strip()
    return pd.to_numeric(stripped.where(stripped != ""), errors="coerce").to_numpy(dtype=np.float64)


def _csv_frame(path: Path) -> tuple[pd.DataFrame, ReadNote | None]:
    """progress.csv as text cells, without a last line still being written (SB3 writes a
    row at a time: "8192,0.0" may be the start of "8192,0.034,..."); or UnreadableFile."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:  # never blocks: see open_regular
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_CSV_BYTES:
                raise UnreadableFile(path, f"{size:,} bytes is over the {MAX_CSV_BYTES:,}-byte limit for a progress.csv")
            data = handle.read(MAX_CSV_BYTES + 1)  # read once: the file may grow meanwhile
    except OSError as error:
        raise UnreadableFile(path, f"cannot read: {error.strerror or error}") from None
    whole = data[: data.rfind(b"\n") + 1]
    note = None
    if len(whole) < len(data) and whole:
        note = ReadNote(display(str(path)), f"incomplete last line: {len(data) - len(whole)} bytes skipped", len(whole))
    else:
        whole = data  # no newline at all: a one-line file, read as it is
    try:
        text = whole.decode("utf-8")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="skip", engine="python")
    except UnicodeDecodeError:
        raise UnreadableFile(path, "not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise UnreadableFile(path, "empty file: no header row") from None
    except (pd.errors.ParserError, csv.Error) as error:
        raise UnreadableFile(path, f"not a CSV table: {' '.join(str(error).split())}") from None
    return frame, note
