"""The reader of MLflow's local stores: the SQLite backend and the legacy file store.

Both layouts as MLflow 3.17 writes them (``mlflow/store/tracking``), checked on stores
its client wrote:

- SQLite (``mlflow.db``, the default backend since MLflow 3.7): table ``runs``
  (``run_uuid``, ``name``, ``experiment_id``, ``lifecycle_stage``), ``experiments``
  (``experiment_id``, ``name``), ``metrics`` (``key``, ``value``, ``timestamp``,
  ``step``, ``is_nan``, ``run_uuid``: every logged point; a NaN is stored as
  ``value`` 0 with ``is_nan`` true, and +-Inf as +-1.797e308, the largest float64),
  ``params`` (``key``, ``value`` text, ``run_uuid``). The database is opened
  read-only; nothing in it is run but the SELECTs here.
- File store (``mlruns/<experiment>/<run>/``): ``meta.yaml``, ``metrics/<key>`` (a key
  with "/" is a nested path) holding ``<timestamp> <value> <step>`` lines (2, 3 or 5
  fields; ``nan`` and ``inf`` spelled as Python writes them), ``params/<key>`` holding
  the value as text, ``tags/mlflow.runName`` the run's name.

Params are the run's declared settings (CleanRL's arguments when logged as params):
they go to the one config reader as text values, like the hparams plugin's.
"""

from __future__ import annotations

import math
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrdoctor.configs.loaders import open_regular
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import Points, ReadNote
from lrdoctor.words import display

SQLITE_MAGIC = b"SQLite format 3\x00"
RUN_NAME_TAG = "mlflow.runName"
_FLOAT64_MAX = 1.7976931348623157e308  # how the SQLite store writes an infinity
MAX_METRIC_FILE_BYTES = 256 << 20  # a metric file is ~40 bytes a point
MAX_PARAM_BYTES = 8000  # MLflow's own limit on a param's value
MAX_KEYS = 10_000  # metric files or params of one run walked; a run logs dozens


@dataclass
class MlflowRun:
    """One MLflow run: its points by key, its params, its name, and what was odd."""

    scalars: dict[str, Points] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    params: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    notes: list[ReadNote] = field(default_factory=list)


# ---------------------------------------------------------------- SQLite


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts as an SQLite database does (read without blocking)."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _connect(path: Path) -> sqlite3.Connection:
    """Read-only: a store being written by a live run is read as it stands, never changed."""
    if not is_sqlite_file(path):
        raise UnreadableFile(path, "not an SQLite database")
    try:
        return sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error as error:
        raise UnreadableFile(path, f"cannot open as SQLite: {error}") from None


def sqlite_runs(path: Path) -> list[tuple[str, str, str | None]]:
    """(experiment_id, run_uuid, run name) of each active run in the store, oldest first."""
    connection = _connect(path)
    try:
        rows = connection.execute(
            "SELECT runs.experiment_id, runs.run_uuid, runs.name FROM runs "
            "JOIN experiments ON experiments.experiment_id = runs.experiment_id "
            "WHERE COALESCE(runs.lifecycle_stage, '') != 'deleted' "
            "AND COALESCE(experiments.lifecycle_stage, '') != 'deleted' ORDER BY runs.start_time, runs.run_uuid"
        ).fetchall()
    except sqlite3.Error as error:
        raise UnreadableFile(path, f"not an MLflow store ({error})") from None
    finally:
        connection.close()
    return [(str(experiment), str(run), None if name is None else str(name)) for experiment, run, name in rows]


def read_sqlite_run(path: Path, run_uuid: str, want) -> MlflowRun:
    """One run's metrics (NaN restored from ``is_nan``) and params from an SQLite store."""
    connection = _connect(path)
    run = MlflowRun()
    try:
        names = connection.execute("SELECT name FROM runs WHERE run_uuid = ?", (run_uuid,)).fetchone()
        if names is None:
            raise UnreadableFile(path, f"no run {display(run_uuid)} in the store")
        run.name = None if names[0] is None else str(names[0])
        run.keys = {str(k) for (k,) in connection.execute(
            "SELECT DISTINCT key FROM metrics WHERE run_uuid = ?", (run_uuid,))}
        for key in sorted(k for k in run.keys if want.fullmatch(k)):
            rows = connection.execute(
                "SELECT step, value, is_nan FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY timestamp, rowid",
                (run_uuid, key),
            ).fetchall()
            steps = np.array([int(step) for step, _, _ in rows], dtype=np.int64)
            values = np.array([math.nan if is_nan else float(value) for _, value, is_nan in rows], dtype=np.float64)
            values[np.abs(values) == _FLOAT64_MAX] = np.sign(values[np.abs(values) == _FLOAT64_MAX]) * np.inf
            run.scalars[key] = (steps, values)
        for key, value in connection.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_uuid,)):
            run.params[str(key)] = str(value)[:MAX_PARAM_BYTES]
    except sqlite3.Error as error:
        raise UnreadableFile(path, f"not an MLflow store ({error})") from None
    finally:
        connection.close()
    return run


# ---------------------------------------------------------------- file store


def is_file_store_run(directory: Path, names: set[str]) -> bool:
    """Whether a directory (with these entries) is a live run of MLflow's file store (a deleted
    run stays on disk with ``lifecycle_stage: deleted`` in its meta.yaml until garbage-collected)."""
    if not ("meta.yaml" in names and "metrics" in names and (directory / "metrics").is_dir()):
        return False
    return "lifecycle_stage: deleted" not in _small_text(directory / "meta.yaml")


def read_file_store_run(directory: Path, want) -> MlflowRun:
    """A file-store run: ``metrics/<key>`` lines, ``params/<key>`` values, its name tag."""
    run = MlflowRun()
    where = display(str(directory))
    for key, path in _entries(directory / "metrics", run, where):
        run.keys.add(key)
        if want.fullmatch(key):
            run.scalars[key] = _metric_file(path, run, key)
    for key, path in _entries(directory / "params", run, where):
        run.params[key] = _small_text(path)
    name = directory / "tags" / RUN_NAME_TAG
    if name.is_file():
        run.name = _small_text(name).strip() or None
    return run


def _entries(folder: Path, run: MlflowRun, where: str):
    """(key, file) below ``folder``, keys with "/" being nested paths; links are not followed."""
    if not folder.is_dir():
        return
    stack, count = [folder], 0
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        count += 1
                        if count > MAX_KEYS:
                            run.notes.append(ReadNote(where, f"more than {MAX_KEYS:,} files in {folder.name}/: "
                                                             "the rest not read"))
                            return
                        yield Path(entry.path).relative_to(folder).as_posix(), Path(entry.path)
        except OSError as error:
            run.notes.append(ReadNote(display(str(directory)), f"cannot read directory: {error.strerror}"))


def _small_text(path: Path) -> str:
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            return handle.read(MAX_PARAM_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def _metric_file(path: Path, run: MlflowRun, key: str) -> Points:
    """``<timestamp> <value> <step>`` lines; a last line without its newline is still being written."""
    where = display(str(path))
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            data = handle.read(MAX_METRIC_FILE_BYTES + 1)
    except OSError as error:
        run.notes.append(ReadNote(where, f"cannot read: {error.strerror or error}"))
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if len(data) > MAX_METRIC_FILE_BYTES:
        data = data[:MAX_METRIC_FILE_BYTES]
        run.notes.append(ReadNote(where, f"over {MAX_METRIC_FILE_BYTES:,} bytes: read to there"))
    whole = data[: data.rfind(b"\n") + 1]
    if len(whole) < len(data):
        run.notes.append(ReadNote(where, f"incomplete last line: {len(data) - len(whole)} bytes skipped", len(whole)))
    steps, values, bad = [], [], 0
    for line in whole.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) not in (2, 3, 5):
            bad += 1
            continue
        try:
            value = float(parts[1])
            step = int(parts[2]) if len(parts) >= 3 else 0
        except ValueError:
            bad += 1
            continue
        steps.append(step)
        values.append(value)
    if bad:
        run.notes.append(ReadNote(where, f"{bad:,} lines that are not '<timestamp> <value> <step>' skipped"))
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)
