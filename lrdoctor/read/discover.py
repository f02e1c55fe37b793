"""Find every run below the given paths.

A run is a directory holding one or more ``events.out.tfevents.*`` files (several
files = restarts of one run) or an SB3 ``progress.csv``. The walk uses
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
from dataclasses import dataclass, replace
from pathlib import Path

from lrdoctor.configs.loaders import SYSTEM_DIRECTORIES, open_regular, system_location
from lrdoctor.model import ReadNote
from lrdoctor.words import display

EVENTS_PREFIX = "events.out.tfevents."
PROGRESS_CSV = "progress.csv"
NOT_A_RUN_FILE = "not an event file (events.out.tfevents.*) or progress.csv"
NOT_A_FILE = "not a regular file (a dangling link, pipe or device): skipped"
_TIMESTAMP = re.compile(r"events\.out\.tfevents\.(\d+)")
_TIME_NAME = re.compile(r"\d{9,}\.\d+")  # str(time.time()), the name add_hparams gives its subdirectory
_HPARAMS_TAG = b"_hparams_/session_start_info"
# add_hparams writes file_version, three hparams summaries and one scalar per metric; a real
# run holds far more records, and a file this small is read whole in a moment.
_MAX_HPARAMS_RECORDS = 64
_MAX_HPARAMS_BYTES = 1 << 20


@dataclass(frozen=True)
class FoundRun:
    """A run directory and the files to read from it, event files in write order."""

    path: Path
    root: Path  # the argument it was found under
    name: str
    event_files: tuple[Path, ...] = ()
    progress_csv: Path | None = None


@dataclass(frozen=True)
class Discovery:
    runs: tuple[FoundRun, ...]
    problems: tuple[ReadNote, ...]


def is_training_log(name: str) -> bool:
    """Whether a file name is one lrdoctor reads runs from."""
    return name.startswith(EVENTS_PREFIX) or name == PROGRESS_CSV


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
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir():
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
                        elif is_training_log(entry.name):
                            # Opening a pipe would block forever; a dangling link has nothing to read.
                            problems.append(ReadNote(display(entry.path), NOT_A_FILE))
                    except OSError as error:
                        problems.append(ReadNote(display(entry.path), f"cannot read: {error.strerror}"))
        except OSError as error:
            problems.append(ReadNote(display(str(directory)), f"cannot read directory: {error.strerror}"))
            continue
        if events or progress:
            runs.append(
                FoundRun(
                    path=directory,
                    root=root,
                    name=run_name(directory, root),
                    event_files=tuple(directory / name for name in write_order(events)),
                    progress_csv=None if events else progress,
                )
            )
        stack.extend(sorted(subdirs, reverse=True))
    runs = _fold_hparams_subdirectories(runs)
    runs.sort(key=lambda run: run.name)
    return Discovery(tuple(runs), tuple(problems))


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
    return ()
