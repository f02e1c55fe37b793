"""Writing reports and figures where the user asked, and nowhere else.

lrdoctor runs in CI on pull requests, as root, in directories strangers write to, so
what is at the target decides how it is written:

- nothing, or a regular file: a temporary file beside it, then a rename; an
  interrupted run never leaves a half-written report behind;
- this process's own stdout or stderr (``/dev/stdout``, ``/dev/fd/2``): written to
  that stream, as ``-`` is;
- ``/dev/null``, ``/dev/zero``, ``/dev/full``, ``/dev/tty`` or this process's own
  terminal, or a FIFO (also through a symlink): written through, opened for writing as
  the shell's ``>`` opens it, never replaced; a FIFO no process reads is refused rather
  than waited on;
- any other device (a disk, ``/dev/kmsg``, a watchdog, which acts when merely opened),
  a socket, a directory, a symlink to a file or to nothing: refused. A link in a
  shared directory can point anywhere (``/etc/passwd``, the run's own config); writing
  through it as root, or replacing it, would do what its maker chose.

A training log (an event file or a progress.csv) is never the target, and
``refuse_inside`` keeps every output out of the trees a command reads. A refusal is
an InputError naming the path; an OSError while writing names it too.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterable

from lrdoctor.errors import InputError
from lrdoctor.read.names import is_training_log
from lrdoctor.words import display


def output_file(option: Path | None) -> Path | None:
    """The file an ``-o``/``--output`` option names; None for stdout: no option, or ``-``
    as every Unix tool reads it (never a file named "-")."""
    return None if option is None or str(option) == "-" else option


def refuse_inside(targets: Iterable[Path | None], reading: Iterable[Path]) -> None:
    """Raise InputError when a target would put bytes inside ``reading``, whatever its
    name: ``-o run/config.json`` would replace the config the run is judged by."""
    reading = list(reading)
    for target in targets:
        if target is None:
            continue
        _refuse_training_log(target)
        root = inside(target, reading)
        if root is None:
            continue
        if os.path.realpath(target) == os.path.realpath(root):
            raise InputError(f"{display(str(target))}: an input lrdoctor is reading; it never writes over its inputs")
        raise InputError(
            f"{display(str(target))}: inside {display(str(root))}, which lrdoctor is reading;"
            " it never writes into its inputs"
        )


def inside(target: Path, reading: Iterable[Path]) -> Path | None:
    """The path of ``reading`` (the paths a command reads: directories with everything
    below them, files themselves) that writing ``target`` would put bytes in, or None.
    Links are resolved on both sides; a device, FIFO or own stream changes no file there."""
    places = _places(Path(target))
    for path in reading:
        root = Path(os.path.realpath(path))
        if any(place == root or root in place.parents for place in places):
            return Path(path)  # as the user named it
    return None


def _places(target: Path) -> set[Path]:
    """Where writing ``target`` could change a file: where its name lives, and where it
    leads (a directory, a link); nothing for a device, a FIFO or this process's stdout."""
    try:
        info = os.stat(target)
    except OSError:
        info = None
    if _standard_stream(target) is not None:
        return set()
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return set()
    return {Path(os.path.realpath(target.parent)) / target.name, Path(os.path.realpath(target))}


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` as the module docstring says: replaced atomically,
    written through, or refused with one line."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    _refuse_training_log(path)
    stream = _standard_stream(path)
    if stream is not None:
        stream.flush()
        stream.buffer.write(data)
        stream.buffer.flush()
        return
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there yet: mkdir says why, if it cannot be
        info = None
    except OSError as exc:
        raise InputError(f"{display(str(path))}: cannot write: {exc.strerror or exc}") from None
    if info is None or stat.S_ISREG(info.st_mode):
        _replace(path, data)
    elif stat.S_ISDIR(info.st_mode):
        raise InputError(f"{display(str(path))}: {os.strerror(errno.EISDIR)}")
    else:
        _write_through(path, data)


def _refuse_training_log(path: Path) -> None:
    """A report never takes a training log's name: ``-o`` pointed at one by mistake would
    replace a run with a report, wherever it lies."""
    if is_training_log(Path(path).name):
        raise InputError(f"{display(str(path))}: a training log (event file or progress.csv); lrdoctor never writes over one")


def _standard_stream(path: Path) -> IO[str] | None:
    """sys.stdout or sys.stderr when ``path`` is the file that stream already writes to."""
    try:
        target = os.stat(path)
    except OSError:
        return None
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (target.st_dev, target.st_ino) and hasattr(stream, "buffer"):
            return stream
    return None


def _replace(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except FileExistsError:  # mkdir's answer when the directory named is a file
        raise InputError(f"{display(str(path.parent))}: not a directory, cannot write {display(path.name)} into it") from None
    except OSError as exc:
        raise InputError(f"{display(str(path))}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp creates 0600; a report should get the permissions any new file gets.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk says ENOSPC without a file name: name the report
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def _write_through(path: Path, data: bytes) -> None:
    """Write into the device or FIFO at ``path`` (or that a link there points to), as ``>``
    would: no rename, nothing created. A device is looked at before it is opened (opening
    some, such as a watchdog, already acts) and the opened one again, so a swap after the
    look cannot turn this into a write through a link to a file."""
    shown = display(str(path))
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        where = display(os.path.realpath(path))
        raise InputError(
            f"{shown}: a symbolic link to {where}; lrdoctor neither writes through a link to a file nor replaces it"
            " (name the file itself)"
        )
    _refuse_device(shown, info)
    try:
        # O_NONBLOCK: a FIFO with no reader is an error (ENXIO) instead of a wait for ever.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(info.st_mode):
            raise InputError(f"{shown}: a FIFO that no process is reading; lrdoctor does not wait for one") from None
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    try:
        _refuse_device(shown, os.fstat(fd))
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:  # /dev/full: ENOSPC, named
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    finally:
        os.close(fd)


def _refuse_device(shown: str, info: os.stat_result) -> None:
    """Only a FIFO, or a device a report may go to, is written through."""
    if stat.S_ISFIFO(info.st_mode):
        return
    if stat.S_ISCHR(info.st_mode):
        if info.st_rdev in _report_devices():
            return
        raise InputError(f"{shown}: a device other than /dev/null, /dev/zero, /dev/full or this terminal; not written")
    if stat.S_ISBLK(info.st_mode):
        raise InputError(f"{shown}: a block device (a disk); lrdoctor never writes to one")
    if stat.S_ISSOCK(info.st_mode):
        raise InputError(f"{shown}: a socket; lrdoctor writes files, FIFOs, /dev/null and terminals")
    raise InputError(f"{shown}: changed while being opened; not written")


def _report_devices() -> set[int]:
    """The device numbers a report may be written through to: /dev/null, /dev/zero,
    /dev/full, /dev/tty, and the terminal this process's stdin, stdout or stderr is."""
    numbers = set()
    for name in (os.devnull, "/dev/zero", "/dev/full", "/dev/tty"):
        try:
            numbers.add(os.stat(name).st_rdev)
        except OSError:
            pass
    for fd in (0, 1, 2):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISCHR(info.st_mode):
            numbers.add(info.st_rdev)
    return numbers


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
