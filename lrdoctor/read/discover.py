"""Find every run below the given paths.

A run is a directory holding one or more ``events.out.tfevents.*`` files (several
files = restarts of one run) or a ``progress.csv`` (SB3's, or a Tune trial's), or a
run recorded elsewhere (a ``Source``): a W&B run directory (``run-<id>.wandb``), a
Tune trial's ``result.json``, a run of MLflow's file store (``mlruns/<exp>/<run>/``)
or each run of an MLflow SQLite store (``mlflow.db``). One run recorded twice is one
run, and the TensorBoard file wins, with a note naming the other record: a Tune trial
with events and result.json, a W&B run that mirrored a TensorBoard directory
(``sync_tensorboard``: its log_dir is in the file) or holds a copy of its event files.
The walk uses
``os.scandir`` only (one system call per directory), so a tree of thousands of
empty directories stays fast; unreadable directories and symlink loops are
reported, never fatal; file names need not be valid UTF-8. Directory links are
followed (a sweep may link runs from elsewhere), except to an enclosing directory.
Nothing in /proc, /sys or /dev is searched or read, however it is reached (given as
the path, through a link to a directory or to a file named like a log, or walked
into from /): their files can block a read forever (/proc/kmsg) or never end.

``SummaryWriter.add_hparams`` (tensorboardX and torch alike) writes its hparams
into a new writer in a subdirectory named ``str(time.time())`` (e.g.
``RecurrentPPO_1/1700000000.123/``). Such a subdirectory holding nothing but those
few records is part of its parent run, not a run of its own: its event files are
read with the parent's, so its hparams reach the parent's metadata.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from lrdoctor.configs.loaders import SYSTEM_DIRECTORIES, open_regular, system_location
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import ReadNote
from lrdoctor.read.mlflow import MAX_KEYS, is_file_store_run, sqlite_runs
from lrdoctor.read.names import (
    EVENTS_PREFIX,
    PROGRESS_CSV,
    RESULT_JSON,
    SQLITE_NAME,
    is_training_log,
    is_wandb_file,
)
from lrdoctor.read.rllib_result import looks_like_tune_result
from lrdoctor.read.wandb import tensorboard_records
from lrdoctor.words import display

WANDB_LATEST = "latest-run"  # W&B's link to its newest run, a sibling the walk reaches by its own name
NOT_A_RUN_FILE = "not an event file (events.out.tfevents.*), progress.csv, result.json, .wandb or mlflow.db"
NOT_A_FILE = "not a regular file (a dangling link, pipe or device): skipped"
_TIMESTAMP = re.compile(r"events\.out\.tfevents\.(\d+)")
_TIME_NAME = re.compile(r"\d{9,}\.\d+")  # str(time.time()), the name add_hparams gives its subdirectory
_HPARAMS_TAG = b"_hparams_/session_start_info"
# add_hparams writes file_version, three hparams summaries and one scalar per metric; a real
# run holds far more records, and a file this small is read whole in a moment.
_MAX_HPARAMS_RECORDS = 64
_MAX_HPARAMS_BYTES = 1 << 20


@dataclass(frozen=True)
class Source:
    """A run recorded by something other than TensorBoard or SB3's CSV: which reader
    (``kind``), what it reads (``path``), the run inside it (an MLflow SQLite store holds
    many) and the files whose change means the run changed."""

    kind: str  # "wandb", "tune", "mlflow-sqlite", "mlflow-files"
    path: Path
    run_id: str = ""
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class FoundRun:
    """A run directory and the files to read from it, event files in write order."""

    path: Path
    root: Path  # the argument it was found under
    name: str
    event_files: tuple[Path, ...] = ()
    progress_csv: Path | None = None
    source: Source | None = None
    notes: tuple[ReadNote, ...] = ()  # what discovery decided about it (the record not used)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the run is read from."""
        if self.event_files:
            return self.event_files
        if self.progress_csv is not None:
            return (self.progress_csv,)
        return self.source.files if self.source is not None else ()


@dataclass(frozen=True)
class Discovery:
    runs: tuple[FoundRun, ...]
    problems: tuple[ReadNote, ...]


def write_order(names: list[str]) -> list[str]:
    """Event files in the order they were started: by the Unix time in the name, then by name."""
    return sorted(names, key=_started)


def _started(name: str | Path) -> tuple[int, str]:
    base = Path(name).name
    match = _TIMESTAMP.match(base)
    return (int(match.group(1)) if match else 0, base)


def discover(root: Path) -> Discovery:
    """Every run at or below ``root`` (a directory, an event file or a progress.csv).

    Raises FileNotFoundError when ``root`` does not exist.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(root)
    system = system_location(root)
    if system is not None:
        return Discovery((), (ReadNote(display(str(root)), f"{display(system)}: skipped"),))
    if root.is_file() and root.name == SQLITE_NAME:
        found, refused = _sqlite_runs(root, root.parent)
        return Discovery(tuple(found), tuple(refused))
    if root.is_file():
        runs = _file_run(root)
        if runs:
            return Discovery(runs, ())
        return Discovery((), (ReadNote(display(str(root)), NOT_A_RUN_FILE),))
    if not root.is_dir():
        return Discovery((), (ReadNote(display(str(root)), NOT_A_FILE),))
    runs: list[FoundRun] = []
    problems: list[ReadNote] = []
    seen: set[tuple[int, int]] = set()
    system = _system_identities()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
        except OSError as error:
            problems.append(ReadNote(display(str(directory)), f"cannot read directory: {error.strerror}"))
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in system:  # walked into from / (links to it are caught as links)
            problems.append(ReadNote(display(str(directory)), "a system directory: not searched"))
            continue
        if identity in seen:
            problems.append(ReadNote(display(str(directory)), "symlink loop (directory already visited): skipped"))
            continue
        seen.add(identity)
        events, progress, subdirs = [], None, []
        logs: dict[str, Path] = {}  # result.json, run-<id>.wandb, mlflow.db, meta.yaml found here
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir():
                            if entry.name == WANDB_LATEST and entry.is_symlink() and _sibling_link(entry.path):
                                continue
                            skip = entry.is_symlink() and _unsafe_link(directory, entry.path)
                            if skip:
                                problems.append(ReadNote(display(entry.path), skip))
                            else:
                                subdirs.append(Path(entry.path))
                        elif (refused := _system_link(entry)) is not None:
                            problems.append(ReadNote(display(entry.path), refused))
                        elif entry.name.startswith(EVENTS_PREFIX) and entry.is_file():
                            events.append(entry.name)
                        elif entry.name == PROGRESS_CSV and entry.is_file():
                            progress = Path(entry.path)
                        elif is_training_log(entry.name) and entry.is_file():
                            logs["wandb" if is_wandb_file(entry.name) else entry.name] = Path(entry.path)
                        elif entry.name == "meta.yaml" and entry.is_file():
                            logs["meta.yaml"] = Path(entry.path)
                        elif is_training_log(entry.name):
                            # Opening a pipe would block forever; a dangling link has nothing to read.
                            problems.append(ReadNote(display(entry.path), NOT_A_FILE))
                    except OSError as error:
                        problems.append(ReadNote(display(entry.path), f"cannot read: {error.strerror}"))
        except OSError as error:
            problems.append(ReadNote(display(str(directory)), f"cannot read directory: {error.strerror}"))
            continue
        if "mlflow.db" in logs:
            found, refused = _sqlite_runs(logs.pop("mlflow.db"), root)
            runs.extend(found)
            problems.extend(refused)
        source = _source(directory, logs, subdirs) if logs or subdirs else None
        if events or progress or source:
            runs.append(_directory_run(directory, root, events, progress, source))
        if source is not None and source.kind == "mlflow-files":  # its metric files are no runs
            subdirs = [d for d in subdirs if d.name not in ("metrics", "params", "tags", "artifacts")]
        stack.extend(sorted(subdirs, reverse=True))
    runs = _fold_wandb_resumes(runs)
    runs = _fold_wandb_mirrors(runs)
    runs = _fold_hparams_subdirectories(runs)
    runs.sort(key=lambda run: run.name)
    return Discovery(tuple(runs), tuple(problems))


def _directory_run(
    directory: Path, root: Path, events: list[str], progress: Path | None, source: Source | None
) -> FoundRun:
    """The run of one directory. Event files win over any other record of the run; a Tune
    trial's result.json over its progress.csv (the same results, nested as Tune made them)."""
    notes: tuple[ReadNote, ...] = ()
    if source is not None and source.kind == "tune" and not events:
        progress = None
    elif source is not None and (events or progress):
        used = "TensorBoard" if events else "progress.csv"
        notes = (ReadNote(display(str(source.path)), f"the same run as the {used} record beside it: {used} used", info=True),)
        source = None
    return FoundRun(
        path=directory,
        root=root,
        name=run_name(directory, root),
        event_files=tuple(directory / name for name in write_order(events)),
        progress_csv=None if events else progress,
        source=source,
        notes=notes,
    )


def _source(directory: Path, logs: Mapping[str, Path], subdirs: list[Path]) -> Source | None:
    """The run recorded in this directory other than by event files or progress.csv, if any."""
    if "wandb" in logs:  # W&B names the directory run-<ts>-<id>, but a copy may be renamed
        return Source("wandb", logs["wandb"], files=(logs["wandb"],))
    if RESULT_JSON in logs and looks_like_tune_result(logs[RESULT_JSON]):
        return Source("tune", logs[RESULT_JSON], files=(logs[RESULT_JSON],))
    names = {path.name for path in subdirs} | set(logs)
    if is_file_store_run(directory, names):
        return Source("mlflow-files", directory, files=_file_store_files(directory))
    return None


def _file_store_files(directory: Path) -> tuple[Path, ...]:
    """A file-store run's metric and param files: appending a point changes one of them, not the directory."""
    found = []
    for folder in ("metrics", "params"):
        for base, _dirs, names in os.walk(directory / folder):
            found.extend(Path(base) / name for name in sorted(names))
            if len(found) > MAX_KEYS:
                return tuple(found[:MAX_KEYS])
    return tuple(found)


def _sqlite_runs(path: Path, root: Path) -> tuple[list[FoundRun], list[ReadNote]]:
    """One run per active run of an MLflow SQLite store, named ``<dir>/mlflow.db/<experiment>/<run id>``
    like the file store's ``mlruns/<experiment>/<run id>``."""
    try:
        listed = sqlite_runs(path)
    except UnreadableFile as error:
        return [], [ReadNote(display(str(path)), str(error).split(": ", 1)[-1])]
    store = run_name(path.parent, root) if path.parent != root else ""
    files = tuple(p for p in (path, Path(f"{path}-wal")) if p.exists())
    runs = []
    for experiment, run_id, _name in listed:
        name = "/".join(part for part in (store, path.name, display(experiment), display(run_id)) if part)
        runs.append(FoundRun(path.parent, root, name, source=Source("mlflow-sqlite", path, run_id, files)))
    return runs, []


def _fold_wandb_resumes(runs: list[FoundRun]) -> list[FoundRun]:
    """A resumed W&B run (``resume="allow"``, as PufferLib inits) writes a new directory with the
    same run id (``run-<id>.wandb``) beside the first: one run, its files read in the order they
    were started (the time in the directory name), a later one winning from its first step on,
    as event-file restarts are merged. It is named by its latest directory."""
    groups: dict[tuple[str, str], list[FoundRun]] = {}
    for run in runs:
        if run.source is not None and run.source.kind == "wandb":
            key = (os.path.realpath(run.path.parent), run.source.path.name)
            groups.setdefault(key, []).append(run)
    merged: dict[int, FoundRun | None] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda run: run.path.name.removeprefix("offline-"))
        latest = group[-1]
        files = tuple(file for run in group for file in run.source.files)
        note = ReadNote(display(str(latest.path)), f"a W&B run resumed {len(group) - 1} time"
                        f"{'s' if len(group) > 2 else ''}: its {len(group)} directories are read as one run "
                        f"(from {group[0].name})")
        merged[id(latest)] = replace(latest, source=replace(latest.source, files=files), notes=(*latest.notes, note))
        merged.update({id(run): None for run in group[:-1]})
    if not merged:
        return runs
    return [merged.get(id(run), run) for run in runs if merged.get(id(run), run) is not None]


def _fold_wandb_mirrors(runs: list[FoundRun]) -> list[FoundRun]:
    """A W&B run that mirrored TensorBoard (``sync_tensorboard``) is one run with it, read from
    the event files, with a note naming the W&B record: the original directory it names as its
    log_dir when that was found too (the W&B directory and its copy of the event files then
    add nothing), else the copy W&B keeps in its own ``files/``, under the W&B run's name."""
    tensorboard = {os.path.realpath(run.path): run for run in runs if run.event_files}
    if not tensorboard:
        return runs
    dropped: set[str] = set()  # real paths of runs folded away
    noted: dict[str, list[ReadNote]] = {}
    replaced: dict[str, FoundRun] = {}
    for run in runs:
        if run.source is None or run.source.kind != "wandb":
            continue
        here = os.path.realpath(run.path)
        copies = sorted(path for path in tensorboard if path.startswith(here + os.sep))
        originals = [path for path in _mirrored_dirs(run, tensorboard) if path not in copies]
        note = ReadNote(
            display(str(run.source.path)), f"the W&B record of this run ({run.name}): TensorBoard used", info=True
        )
        if originals:
            dropped.update([here, *copies])
            for original in originals:
                noted.setdefault(original, []).append(note)
        elif copies:
            files = tuple(file for copy in copies for file in tensorboard[copy].event_files)
            dropped.update(copies)
            replaced[here] = replace(run, event_files=files, source=None, notes=(*run.notes, note))
    kept = []
    for run in runs:
        here = os.path.realpath(run.path)
        if here in dropped:
            continue
        if run.source is not None and run.source.kind == "wandb" and here in replaced:
            run = replaced[here]
        if run.event_files and here in noted:
            run = replace(run, notes=(*run.notes, *noted[here]))
        kept.append(run)
    return kept


def _mirrored_dirs(run: FoundRun, found: Collection[str]) -> list[str]:
    """The TensorBoard directories found here that a W&B run mirrored: per log_dir it wrote
    down, that path, or for a project moved since, the longest tail of it below the folder
    that holds ``wandb/`` (CleanRL puts ``runs/`` beside it) -- the first that is a run found
    in this walk (the original place may still exist elsewhere: a clone is not the original)."""
    project = run.path.parent.parent
    mirrored = []
    for log_dir, _root in tensorboard_records(run.source.path):
        written = Path(log_dir)
        candidates = [written] if written.is_absolute() else [project / written]
        candidates += [project.joinpath(*written.parts[start:]) for start in range(1, len(written.parts))]
        real = (os.path.realpath(candidate) for candidate in candidates)
        mirrored.extend(next(([path] for path in real if path in found), []))
    return mirrored


def _sibling_link(link: str) -> bool:
    """Whether a link leads to a directory beside it (W&B's latest-run)."""
    return os.path.dirname(os.path.realpath(link)) == os.path.realpath(os.path.dirname(link))


def _fold_hparams_subdirectories(runs: list[FoundRun]) -> list[FoundRun]:
    """Each run with the event files of its add_hparams subdirectories, which stop being runs."""
    by_path = {run.path: run for run in runs}
    folded: dict[Path, list[Path]] = {}
    for run in runs:
        parent = by_path.get(run.path.parent)
        if parent is not None and parent.event_files and _hparams_only(run):
            folded.setdefault(parent.path, []).extend(run.event_files)
    if not folded:
        return runs
    absorbed = {file.parent for files in folded.values() for file in files}
    return [
        replace(run, event_files=tuple(sorted((*run.event_files, *folded[run.path]), key=_started)))
        if run.path in folded
        else run
        for run in runs
        if run.path not in absorbed
    ]


def _hparams_only(run: FoundRun) -> bool:
    """Whether ``run`` is what add_hparams leaves: a time-named directory whose event files
    hold the hparams summaries and a handful of records, nothing a run of its own would log."""
    if not _TIME_NAME.fullmatch(run.path.name) or not run.event_files:
        return False
    try:
        for path in run.event_files:
            with os.fdopen(open_regular(path), "rb") as handle:  # never blocks, never endless
                data = handle.read(_MAX_HPARAMS_BYTES + 1)
            if len(data) > _MAX_HPARAMS_BYTES or _HPARAMS_TAG not in data:
                return False
            if _record_count(data) > _MAX_HPARAMS_RECORDS:
                return False
    except OSError:
        return False
    return True


def _record_count(data: bytes) -> int:
    """Records in TFRecord framing (8-byte length, 4-byte CRC, payload, 4-byte CRC)."""
    count, offset = 0, 0
    while offset + 12 <= len(data):
        offset += 16 + int.from_bytes(data[offset : offset + 8], "little")
        count += 1
    return count


def _system_identities() -> set[tuple[int, int]]:
    """(device, inode) of /proc, /sys and /dev, to know them under any name."""
    identities = set()
    for top in SYSTEM_DIRECTORIES:
        try:
            info = os.stat(top)
        except OSError:
            continue
        identities.add((info.st_dev, info.st_ino))
    return identities


def _unsafe_link(directory: Path, link: str) -> str | None:
    """Why a symlinked directory must not be followed, if it must not: a link to an
    ancestor (``logs/all -> /``) would walk the whole tree above before the visited
    check could stop it, and /proc, /sys and /dev are endless or blocking."""
    target = os.path.realpath(link)
    here = os.path.realpath(directory)
    if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
        return "symlink loop (link to an enclosing directory): skipped"
    if system_location(target) is not None:
        return f"link to {display(target)}, a system directory: skipped"
    return None


def _system_link(entry: os.DirEntry) -> str | None:
    """Why a link named like a log is not read, if it leads into /proc, /sys or /dev: stat
    calls /proc/kmsg a regular file, and reading it blocks until the kernel logs something."""
    if not (is_training_log(entry.name) and entry.is_symlink()) or system_location(entry.path) is None:
        return None
    return f"link to {display(os.path.realpath(entry.path))}, a system file: skipped"


def run_name(directory: Path, root: Path) -> str:
    """The run's path relative to the argument; the directory's own name when it is the argument."""
    relative = directory.relative_to(root).as_posix()
    if relative == ".":
        relative = Path(os.path.abspath(directory)).name or "."
    return display(relative)


def _file_run(path: Path) -> tuple[FoundRun, ...]:
    directory = path.parent
    name = Path(os.path.abspath(directory)).name or "."
    if path.name.startswith(EVENTS_PREFIX):
        return (FoundRun(directory, directory, display(name), event_files=(path,)),)
    if path.name == PROGRESS_CSV:
        return (FoundRun(directory, directory, display(name), progress_csv=path),)
    if path.name == RESULT_JSON:
        return (FoundRun(directory, directory, display(name), source=Source("tune", path, files=(path,))),)
    if is_wandb_file(path.name):
        return (FoundRun(directory, directory, display(name), source=Source("wandb", path, files=(path,))),)
    return ()
