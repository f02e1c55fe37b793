"""The reader of a progress.csv: SB3's (its CSV logger), or a Ray Tune trial's.

The header says which: SB3 writes ``time/total_timesteps``, the env steps of each row;
Tune's CSV logger writes the flattened result (the keys its TensorBoard logger uses,
without the ``ray/tune/`` prefix), each row at ``timesteps_total`` when it has one, else
at ``training_iteration`` -- the step Tune's TensorBoard logger uses too.

It is the only reader that needs pandas (``read_csv`` copes with ragged rows and
quoting), so it is imported only when a run without event files is actually read.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from lrdoctor.configs.loaders import open_regular
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import Points, ReadNote
from lrdoctor.read.normalise import merge_files, merge_notes
from lrdoctor.words import display

# SB3 writes one row per rollout: even 1e9 steps of 128-step rollouts is ~100 MB with
# SB3's columns; a bigger file is not a progress.csv and would only exhaust memory.
MAX_CSV_BYTES = 256 << 20
# SB3 writes a row of a few KB (a few dozen keys); a longer line is no row of its logger, and
# pandas would take gigabytes to split it (a 200 MB header once took 1.5 GB).
MAX_CSV_LINE = 1 << 20
_SCAN = 1 << 20  # bytes searched for line breaks at a time
STEP_COLUMN = "time/total_timesteps"  # SB3's progress.csv: the env-step counter of each row
TUNE_STEP_COLUMNS = ("timesteps_total", "training_iteration")  # Tune's, in order of preference


def read_progress_csv(path: Path, want) -> tuple[dict[str, Points], set[str], list[ReadNote], str]:
    """One row per dump, blank where a key was not recorded that time; and the library whose
    table maps it ("sb3" or "rllib"). Blank cells are "not logged"; a written nan stays NaN
    (data); a cell that is no number at all ("abc") is skipped and noted, never turned into a NaN."""
    frame, notes = _csv_frame(path)
    frame = frame.fillna("")  # a short row leaves its last cells missing: not logged
    step_column, library = _step_column(frame)
    if step_column is None:
        raise UnreadableFile(path, f"no {STEP_COLUMN} column (SB3) or training_iteration column (Tune) to use "
                                   "as the step")
    steps_all = _numbers(frame[step_column])
    with np.errstate(invalid="ignore"):
        # a step must be a whole number int64 holds: casting inf or 1e30 would invent one
        has_step = np.isfinite(steps_all) & (steps_all == np.floor(steps_all)) & (np.abs(steps_all) < 2.0**63)
    all_tags = {c for c in frame.columns if c != step_column}
    written_order: dict[str, Points] = {}
    not_numbers: dict[str, int] = {}
    for column in sorted(t for t in all_tags if want.fullmatch(t)):
        cells = frame[column].str.strip()
        values = _numbers(cells)
        written = has_step & (cells != "").to_numpy()
        number = ~np.isnan(values) | cells.str.lower().isin(NAN_SPELLINGS).to_numpy()
        if (written & ~number).any():
            not_numbers[column] = int((written & ~number).sum())
        use = written & number
        written_order[column] = (steps_all[use].astype(np.int64), values[use])
    where = display(str(path))
    scalars = merge_files([written_order])
    notes.extend(merge_notes([written_order], [where]))
    if (~has_step).any():
        notes.append(ReadNote(where, f"{int((~has_step).sum())} rows without a whole-number {step_column} skipped"))
    if not_numbers:
        counts = ", ".join(f"{column}: {count}" for column, count in not_numbers.items())
        notes.append(ReadNote(where, f"cells that are not numbers skipped ({counts})"))
    return scalars, all_tags, notes, library


def _step_column(frame: pd.DataFrame) -> tuple[str | None, str]:
    """The step column and whose file it is: SB3's counter, else Tune's (timesteps_total when
    its rows have it, as Tune's TensorBoard logger would step them, else training_iteration)."""
    if STEP_COLUMN in frame.columns:
        return STEP_COLUMN, "sb3"
    if TUNE_STEP_COLUMNS[1] not in frame.columns:
        return None, "sb3"
    if TUNE_STEP_COLUMNS[0] in frame.columns and (frame[TUNE_STEP_COLUMNS[0]].str.strip() != "").all():
        return TUNE_STEP_COLUMNS[0], "rllib"
    return TUNE_STEP_COLUMNS[1], "rllib"


NAN_SPELLINGS = ("nan", "-nan", "+nan")


def _numbers(cells: pd.Series) -> np.ndarray:
    """Cells as float64; blank or not a number -> NaN (callers tell a written nan apart)."""
    stripped = cells.str.strip()
    return pd.to_numeric(stripped.where(stripped != ""), errors="coerce").to_numpy(dtype=np.float64)


def _csv_frame(path: Path) -> tuple[pd.DataFrame, list[ReadNote]]:
    """progress.csv as text cells, one column per name, and notes on what was left out: a
    last line still being written (SB3 writes a row at a time: "8192,0.0" may be the start
    of "8192,0.034,..."), lines over MAX_CSV_LINE, repeated column names; or UnreadableFile."""
    where = display(str(path))
    try:
        with os.fdopen(open_regular(path), "rb") as handle:  # never blocks: see open_regular
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_CSV_BYTES:
                over = f"{size:,} bytes is over the {MAX_CSV_BYTES:,}-byte limit for a progress.csv"
                raise UnreadableFile(path, over)
            header = handle.readline(MAX_CSV_LINE + 1)  # the header alone first: it may be all there is
            if len(header) > MAX_CSV_LINE and not header.endswith(b"\n"):
                raise UnreadableFile(path, f"header row longer than {MAX_CSV_LINE:,} bytes: not an SB3 progress.csv")
            data = header + handle.read(MAX_CSV_BYTES + 1 - len(header))  # once: the file may grow meanwhile
    except OSError as error:
        raise UnreadableFile(path, f"cannot read: {error.strerror or error}") from None
    notes = []
    if b"\r" in data and b"\n" not in data:  # CR-only line endings (classic Mac): lines all the same
        data = data.replace(b"\r", b"\n")
    whole = data[: data.rfind(b"\n") + 1]
    if len(whole) < len(data) and whole:
        notes.append(ReadNote(where, f"incomplete last line: {len(data) - len(whole)} bytes skipped", len(whole)))
    else:
        whole = data  # no newline at all: a one-line file, read as it is
    long = _long_lines(whole)
    if long:
        pieces, at = [], 0
        for begin, end in long:
            pieces.append(whole[at:begin])
            at = end
        whole = b"".join(pieces + [whole[at:]])
        notes.append(ReadNote(where, f"{len(long)} line{'s' if len(long) != 1 else ''} longer than "
                                     f"{MAX_CSV_LINE:,} bytes skipped", long[0][0]))
    try:
        text = whole.decode("utf-8")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, on_bad_lines="skip", engine="python")
    except UnicodeDecodeError:
        raise UnreadableFile(path, "not UTF-8 text") from None
    except pd.errors.EmptyDataError:
        raise UnreadableFile(path, "empty file: no header row") from None
    except (pd.errors.ParserError, csv.Error) as error:
        raise UnreadableFile(path, f"not a CSV table: {' '.join(str(error).split())}") from None
    frame, repeated = _first_of_each_name(frame, text)
    if repeated:
        names = ", ".join(f"{display(name)} ({count} times)" for name, count in repeated.items())
        notes.append(ReadNote(where, f"repeated column names: {names}; the first column of each name is read"))
    return frame, notes


def _first_of_each_name(frame: pd.DataFrame, text: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The frame with one column per header name, the first of each, and the names written
    more than once with their counts. pandas renames a repeated "a" to "a.1", which would pass
    for a tag of its own."""
    names = next(csv.reader(io.StringIO(text[: text.find("\n") + 1 or len(text)])), [])
    counts = Counter(names)
    repeated = {name: count for name, count in counts.items() if count > 1}
    if not repeated or len(names) != len(frame.columns):
        return frame, repeated
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        first.setdefault(name, index)
    frame = frame.iloc[:, sorted(first.values())]
    frame.columns = [names[index] for index in sorted(first.values())]
    return frame, repeated


def _long_lines(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each line longer than MAX_CSV_LINE bytes, its line break included,
    found a chunk at a time (a mask of a whole 256 MB file would cost as much again)."""
    view = np.frombuffer(data, dtype=np.uint8)
    found: list[tuple[int, int]] = []
    start = 0  # where the current line began
    for first in range(0, len(view), _SCAN):
        breaks = first + np.flatnonzero(view[first : first + _SCAN] == 10)
        if not len(breaks):
            continue
        begins = np.concatenate(([start], breaks[:-1] + 1))
        found += [(int(begins[i]), int(breaks[i]) + 1) for i in np.flatnonzero(breaks - begins > MAX_CSV_LINE)]
        start = int(breaks[-1]) + 1
    if len(view) - start > MAX_CSV_LINE:
        found.append((start, len(view)))
    return found
