"""The reader of a Ray Tune trial's ``result.json``: one JSON object per training iteration,
read a line at a time (a long trial's file is hundreds of MB; only the wanted columns are kept).

Each line is the iteration's whole result as Tune's JSON logger writes it (RLlib's
learner stats nested under ``info/learner/<policy>/learner_stats`` on the old API
stack, ``learners/<module>`` on the new one), with the trial's config under
``config``. The scalars are taken as Tune's own TensorBoard logger takes them, so a
trial reads the same from either file: nested keys joined with "/", numbers only
(booleans as 0/1, as Tune logs them), ``config`` left out, and each iteration placed
at ``timesteps_total`` when the result has it, else at ``training_iteration``. One
difference, on purpose: Tune's TensorBoard logger drops NaN values, this reader keeps
them (a NaN loss is a finding, not a gap).

The first result's ``config`` is the trial's declared configuration (``params.json``
beside it holds the same, and is read as a config file when present). A last line
without its newline is a trial still writing: it is left for the next read, and said.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from lrdoctor.configs.loaders import open_regular
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import Points, ReadNote
from lrdoctor.words import display

# A result line is tens of KB (RLlib's timers and connector stats); a long trial has thousands.
MAX_RESULT_BYTES = 512 << 20
MAX_LINE_BYTES = 16 << 20
MAX_DEPTH = 16
_LEFT_OUT = ("config",)
_TUNE_MARKER = b'"training_iteration"'


def looks_like_tune_result(path: Path) -> bool:
    """Whether a result.json's first line reads as a Tune result (it names its training_iteration)."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            return _TUNE_MARKER in handle.readline(MAX_LINE_BYTES)
    except OSError:
        return False


def read_result_json(path: Path, want) -> tuple[dict[str, Points], set[str], list[ReadNote], dict]:
    """(scalars of the wanted keys by step, every scalar key, notes, the first result's config)."""
    where = display(str(path))
    notes: list[ReadNote] = []
    columns: dict[str, tuple[list[int], list[float]]] = {}
    keys: set[str] = set()
    config: dict = {}
    results = bad = unplaced = 0
    try:
        for line in _lines(path, where, notes):
            result = _result(line)
            if result is None:
                bad += line.strip() != b""
                continue
            results += 1
            if not config and isinstance(result.get("config"), dict):
                config = result["config"]
            step = _step(result)
            flat = dict(_flattened(result))
            keys.update(flat)
            if step is None:
                unplaced += 1
                continue
            for key, value in flat.items():
                if want.fullmatch(key):
                    steps, values = columns.setdefault(key, ([], []))
                    steps.append(step)
                    values.append(value)
    except OSError as error:
        raise UnreadableFile(path, f"cannot read: {error.strerror or error}") from None
    if not results and not notes:
        raise UnreadableFile(path, "no Tune result in it (one JSON object per line)")
    if bad:
        notes.append(ReadNote(where, f"{bad:,} lines that are not a JSON object skipped"))
    if unplaced:
        notes.append(ReadNote(where, f"{unplaced:,} results without a whole-number timesteps_total or "
                                     "training_iteration skipped"))
    scalars = {key: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64))
               for key, (s, v) in columns.items()}
    return scalars, keys, notes, config


def _lines(path: Path, where: str, notes: list[ReadNote]):
    """The file's whole lines, one at a time (a line over MAX_LINE_BYTES is given cut, and is no
    JSON); a last line without its newline is a trial still writing: left out, and said."""
    read = 0
    with os.fdopen(open_regular(path), "rb") as handle:  # never blocks: see open_regular
        while read < MAX_RESULT_BYTES:
            line = handle.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if not line.endswith(b"\n") and len(line) <= MAX_LINE_BYTES:
                notes.append(ReadNote(where, f"incomplete last line (a trial still writing): {len(line)} bytes "
                                             "not read", read))
                return
            read += len(line)
            yield line
            while not line.endswith(b"\n") and line:  # the rest of an over-long line
                line = handle.readline(MAX_LINE_BYTES + 1)
                read += len(line)
        notes.append(ReadNote(where, f"over {MAX_RESULT_BYTES:,} bytes: read to there"))


def _result(line: bytes) -> dict | None:
    """One line as a result: a JSON object, or None."""
    try:
        result = json.loads(line) if line.strip() and len(line) <= MAX_LINE_BYTES else None
    except (ValueError, RecursionError):
        return None
    return result if isinstance(result, dict) else None


def _step(result: dict) -> int | None:
    """Tune's step for a result: ``timesteps_total`` when it has one, else ``training_iteration``."""
    for key in ("timesteps_total", "training_iteration"):
        value = result.get(key)
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if number and value == int(value) and abs(value) < 2**63:
            return int(value)
    return None


def _flattened(result: dict, prefix: str = "", depth: int = 0):
    """(key, number) of every number in a result, nested keys joined with "/"."""
    for key, value in result.items():
        if not prefix and key in _LEFT_OUT:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                yield from _flattened(value, f"{name}/", depth + 1)
        elif isinstance(value, (bool, int, float)):
            try:
                yield name, float(value)
            except OverflowError:  # an integer past float64: no metric
                continue
