"""Replaying an analysis whose every input is as it was.

``lrdoctor analyze`` run again on an unchanged sweep says what it said, writes the report it
wrote and exits as it exited, from one cache entry, before the command line, numpy, pandas
or rich are imported: they are most of a cached re-run. Anything else runs the command.

An entry is found by the invocation (``invocation_key``): lrdoctor's code, the interpreter
and its site-packages (an install or an upgrade changes the folder), the arguments, the
working directory, the whole environment, and which standard streams are terminals and of
what size (what rich draws for). It is used only when the inputs are as they were
(``snapshot``): the identity (device, inode, mode, owner, group, size, ctime, mtime) of
every directory, file and link under the paths named (under its folder, for a file named
alone), where each link points and what is there, each configuration file looked for from
the working directory up, and each file a config's defaults list was looked for as, which
may lie above the sweep (``looked_up``). The snapshot is taken before anything is read, so
a file that changes while it is read differs from it next time.

No entry is kept when a replay could differ from running again:
- an input changed in the two seconds before the analysis started (or, for the files a
  defaults list was looked for as, since): it could be written again within its timestamp's
  resolution and keep its times;
- anything could not be read: a read that failed may not fail next time;
- the report was cut short (``| head``);
- figures are drawn, a path is a URL, or the reference reader, --no-cache or a cluster is
  asked for.

What a terminal shows is replayed too: the report's bytes as rich drew them, and the lines
on stderr said again through ``lines.say`` (styled by rich where they were); the progress
bar, gone once the analysis ends, is not drawn.

A report for ``-o`` is written as analyze writes it (``lrdoctor.write``), after the same
refusals: where the path leads is not an input and may have changed. An entry is used only
when this user owns it and no one else may write it: in a shared cache folder, another
user's file could say anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import stat
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from lrdoctor.read import store

KIND = store.REPLAY_KIND
# Timestamps of some file systems step by a second or two (FAT's by two): a file written
# this recently may change again and keep the times it has.
RECENT_NS = 2 * 10**9
# A snapshot of more directory entries than this is not taken: looking at them all would
# cost what the replay saves (a path given as / or a link to a big tree).
MAX_ENTRIES = 100_000
CONFIG_NAMES = ("lrdoctor.toml", "pyproject.toml")  # what rules.options looks for from the working directory up
# Never walked into, as discovery never does: configs.loaders.SYSTEM_DIRECTORIES, not imported
# because its module (dataclasses, inspect) costs a replay 60 ms.
_SYSTEM = ("/proc", "/sys", "/dev")
# Shell bookkeeping that changes between two identical commands and that nothing reads.
_VOLATILE_ENVIRONMENT = ("_", "OLDPWD")

_invocation: dict[str, str] = {}  # this process's key, set by ``replayed`` for ``recorder``


class TooMany(Exception):
    """The inputs hold more entries than a snapshot looks at."""


def invocation_key(argv: Sequence[str], cwd: str, environ: dict[str, str]) -> str:
    """What an analysis is a function of, besides its inputs' files."""
    packages = [*site.getsitepackages(), site.getusersitepackages()]
    terminals = [list(os.get_terminal_size(fd)) if os.isatty(fd) else None for fd in (0, 1, 2)]
    parts = [  # sys.path but its first entry: the console script's folder, or the working directory
        store.FORMAT, store.code_digest(), sys.executable, sys.version, sys.path[1:],
        [[folder, _identity(folder)] for folder in packages],
        list(argv), cwd, sorted((k, v) for k, v in environ.items() if k not in _VOLATILE_ENVIRONMENT),
        terminals,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def snapshot(paths: Sequence[str], cwd: str, *, since_ns: int | None = None) -> str | None:
    """A digest of the inputs' identities (the module docstring says which), or None when
    they cannot all be looked at, are too many, or (with ``since_ns``) any changed since."""
    seen: list = []
    try:
        for path in paths:
            info = os.stat(path)
            top = path if stat.S_ISDIR(info.st_mode) else os.path.dirname(os.path.abspath(path))
            seen.append([path, _identity(path, follow=False), _identity(path)])
            _walk(top, seen)
        for folder in (cwd, *map(str, Path(cwd).parents)):
            seen.extend([folder, name, _identity(os.path.join(folder, name))] for name in CONFIG_NAMES)
    except (OSError, TooMany):
        return None
    return _digest(seen, since_ns)


def looked_up(files: Sequence[str], *, since_ns: int | None = None) -> str | None:
    """A digest of the files configs' defaults lists were looked for as (``Run.looked_for``),
    which may lie anywhere: each one's identity and its folder's (a file made or deleted there
    changes it). None when they cannot be looked at or (with ``since_ns``) any changed since:
    these are looked at after the analysis, which may have read them a moment before."""
    try:
        seen = [[path, _identity(path), _identity(os.path.dirname(path))] for path in files]
    except OSError:
        return None
    return _digest(seen, since_ns)


def _digest(seen: list, since_ns: int | None) -> str | None:
    """The digest of what was seen, or None when (with ``since_ns``) any of it changed since."""
    if since_ns is not None and _recent(seen, since_ns):
        return None
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()


def _walk(top: str, seen: list) -> None:
    """Every entry below ``top``, in name order, with its identity and, for a link, where it
    points and what is there; directory links are followed, loops and system folders not."""
    system = {tuple(_identity(folder)[:2]) for folder in _SYSTEM if os.path.isdir(folder)}
    visited: set[tuple] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        here = _identity(directory)
        seen.append([directory, here])
        if here is None or tuple(here[:2]) in visited | system:
            continue
        visited.add(tuple(here[:2]))
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        if len(seen) + len(entries) > MAX_ENTRIES:
            raise TooMany(directory)
        for entry in entries:
            own = _identity(entry.path, follow=False)
            if own is not None and stat.S_ISLNK(own[2]):
                target = _identity(entry.path)
                seen.append([entry.path, own, os.readlink(entry.path), target])
                if target is not None and stat.S_ISDIR(target[2]):
                    stack.append(entry.path)
            else:
                seen.append([entry.path, own])
                if own is not None and stat.S_ISDIR(own[2]):
                    stack.append(entry.path)


def _identity(path: str, follow: bool = True) -> list[int] | None:
    """device, inode, mode, owner, group, size, ctime and mtime (the last two, for ``_recent``);
    None for nothing there."""
    try:
        info = os.stat(path, follow_symlinks=follow)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [info.st_dev, info.st_ino, info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_ctime_ns,
            info.st_mtime_ns]


def _recent(seen: list, since_ns: int) -> bool:
    """Whether anything changed since ``since_ns``: its ctime or its mtime. Both, since a file
    given its old mtime back (``touch -r``) has only its ctime to tell."""
    return any(isinstance(part, list) and max(part[-2:]) >= since_ns for item in seen for part in item)


# ---------------------------------------------------------------- recording, in analyze


class Recorder:
    """What an analysis says, in order, kept as its entry once it has ended well: lines on
    stderr, text on stdout, and the moment the report was written to ``-o``."""

    def __init__(self, key: str, inputs: str, paths: Sequence[str], started_ns: int) -> None:
        self.header: dict[str, Any] = {"key": key, "inputs": inputs, "paths": list(paths)}
        self.started_ns = started_ns
        self.said: list[list] = []

    def stderr(self, line: str | tuple[tuple[str, str], ...]) -> None:
        """A line as ``lines.say`` was given it: text, or (text, style) pieces."""
        self.said.append(["err", line if isinstance(line, str) else [list(piece) for piece in line]])

    def stdout(self, text: str) -> None:
        self.said.append(["out", text])

    def wrote(self, output: Path, content: str, reading: Sequence[str]) -> None:
        self.header.update(output=str(output), content=content, reading=list(reading))
        self.said.append(["file"])

    def keep(self, code: int, looked_for: Sequence[str]) -> None:
        """Keep the entry, unless a file the configs were composed from or looked for changed
        in the RECENT_NS before the analysis started or since."""
        looked_for = sorted(set(looked_for))
        found = looked_up(looked_for, since_ns=self.started_ns - RECENT_NS)
        if found is None:
            return
        header = {**self.header, "looked_for": looked_for, "found": found, "said": self.said, "code": code}
        path = Path(store.entry_path(KIND, header["key"]))
        store.replace_file(path, lambda handle: handle.write(store.framed(header)), "replay entry")


class Tee:
    """A text stream that writes to ``stream`` and tells ``recorder``, for rich's Console."""

    def __init__(self, stream: TextIO, recorder: Recorder) -> None:
        self.stream, self.recorder = stream, recorder
        self.encoding = stream.encoding  # rich draws boxes in what the stream can encode

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.recorder.stdout(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


def recorder(paths: Sequence[str]) -> Recorder | None:
    """A Recorder for this analysis when it may be replayed: the console script started it
    (``replayed`` left its key), and its inputs are a snapshot's. The command decides the rest."""
    key = _invocation.get("key")
    if key is None:
        return None
    started = time.time_ns()
    inputs = snapshot(paths, os.getcwd(), since_ns=started - RECENT_NS)
    return None if inputs is None else Recorder(key, inputs, paths, started)


# ---------------------------------------------------------------- replaying, before the CLI


def replayed(argv: Sequence[str]) -> int | None:
    """The exit code of ``lrdoctor ARGV`` replayed from its entry, or None when it must run
    (then its key is left for ``recorder``). ``--no-cache`` looks for no entry: it is never
    kept for such a command, and nothing in the cache folder is touched."""
    if "analyze" not in argv or "--no-cache" in argv:
        return None
    try:  # a closed stdout (None) is the command's to report, as is a working directory gone
        if sys.stdout is None or sys.stderr is None:
            return None
        cwd = os.getcwd()
        key = invocation_key(argv, cwd, dict(os.environ))
        _invocation["key"] = key
        header = _entry(key)
        if header is None or snapshot(header["paths"], cwd) != header["inputs"]:
            return None
        if looked_up(header["looked_for"]) != header["found"]:
            return None
    except Exception:  # noqa: BLE001 -- a replay only saves time: whatever stops it, the command runs
        return None
    return _say(header)


def _entry(key: str) -> dict | None:
    """The entry's header if it is one, for this key, this user's and no one else's to write."""
    path = store.entry_path(KIND, key)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not store.trusted(info):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            blob = handle.read()
        header, end = store.unframed(blob)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if end != len(blob) or header.get("key") != key or not isinstance(header.get("said"), list):
        return None
    store.touch(path)
    return header


def _say(header: dict) -> int:
    """Say and write what the entry holds, in its order; its exit code, or 2 when the report
    cannot be written now (said in one line, as the command says it)."""
    from lrdoctor.errors import InputError
    from lrdoctor.lines import say, silence_stdout, stderr_lines
    from lrdoctor.words import display

    stderr = stderr_lines()  # rich's Console only where the analysis had it: a terminal, colour forced
    for what, *text in header["said"]:
        if what == "err":
            line = text[0]
            say(stderr, line if isinstance(line, str) else tuple(tuple(piece) for piece in line))
        elif what == "out":  # flushed as the command flushes it, before the next line on stderr
            try:
                sys.stdout.write(text[0])
                sys.stdout.flush()
            except BrokenPipeError:
                silence_stdout()
            except OSError as error:  # a full disk under `> report`: one line and 2, as the command says it
                sys.stderr.write(f"lrdoctor: error: {error.strerror or error}\n")
                return 2
        else:
            from lrdoctor.write import refuse_inside, write_atomic

            output = Path(header["output"])
            try:
                refuse_inside([output], map(Path, header["reading"]))
                write_atomic(output, header["content"])
            except InputError as error:
                sys.stderr.write(f"lrdoctor: error: {error}\n")
                return 2
            except OSError as error:
                sys.stderr.write(f"lrdoctor: error: {display(str(output))}: {error.strerror or error}\n")
                return 2
    return int(header["code"])
