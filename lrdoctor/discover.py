"""Find every run below the given paths.

A run is a directory holding one or more ``events.out.tfevents.*`` files (several
files = restarts of one run) or an SB3 ``progress.csv``. The walk uses
``os.scandir`` only (one system call per directory), so a tree of thousands of
empty directories stays fast; unreadable directories and symlink loops are
reported, never fatal; file names need not be valid UTF-8. Directory links are
followed (a sweep may link runs from elsewhere), except to an enclosing directory
or into /proc, /sys and /dev.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lrdoctor.model import ReadNote

EVENTS_PREFIX = "events.out.tfevents."
PROGRESS_CSV = "progress.csv"
SYSTEM_DIRECTORIES = ("/proc", "/sys", "/dev")  # reached through a link: never runs, possibly endless
NOT_A_RUN_FILE = "not an event file (events.out.tfevents.*) or progress.csv"
NOT_A_FILE = "not a regular file (a dangling link, pipe or device): skipped"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TIMESTAMP = re.compile(r"events\.out\.tfevents\.(\d+)")


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


def display(text: str) -> str:
    """A file name as one line of printable text: bytes that are not UTF-8 shown as
    U+FFFD, control characters escaped (``\\n``, ``\\x1b``). A name is chosen by whoever
    made the file -- in CI, by a pull request -- and must not start a line of its own
    (a fake error, a GitHub ``::command::``) or send escape sequences to a terminal."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def write_order(names: list[str]) -> list[str]:
    """Event files in the order they were started: by the Unix time in the name, then by name."""

    def key(name: str) -> tuple[int, str]:
        match = _TIMESTAMP.match(name)
        return (int(match.group(1)) if match else 0, name)

    return sorted(names, key=key)


def discover(root: Path) -> Discovery:
    """Every run at or below ``root`` (a directory, an event file or a progress.csv).

    Raises FileNotFoundError when ``root`` does not exist.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(root)
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
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
        except OSError as error:
            problems.append(ReadNote(display(str(directory)), f"cannot read directory: {error.strerror}"))
            continue
        identity = (info.st_dev, info.st_ino)
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
                        elif entry.name.startswith(EVENTS_PREFIX) and entry.is_file():
                            events.append(entry.name)
                        elif entry.name == PROGRESS_CSV and entry.is_file():
                            progress = Path(entry.path)
                        elif entry.name.startswith(EVENTS_PREFIX) or entry.name == PROGRESS_CSV:
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
    runs.sort(key=lambda run: run.name)
    return Discovery(tuple(runs), tuple(problems))


def _unsafe_link(directory: Path, link: str) -> str | None:
    """Why a symlinked directory must not be followed, if it must not: a link to an
    ancestor (``logs/all -> /``) would walk the whole tree above before the visited
    check could stop it, and /proc, /sys and /dev are endless or blocking."""
    target = os.path.realpath(link)
    here = os.path.realpath(directory)
    if here == target or here.startswith(target.rstrip(os.sep) + os.sep):
        return "symlink loop (link to an enclosing directory): skipped"
    if any(target == system or target.startswith(system + os.sep) for system in SYSTEM_DIRECTORIES):
        return f"link to {display(target)}, a system directory: skipped"
    return None


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
