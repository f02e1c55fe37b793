"""The standard streams as every command uses them: lines on stderr (rich's Console where
it may colour: a terminal, FORCE_COLOR, TTY_COMPATIBLE; plain text elsewhere, without
importing rich), stdout silenced once its reader left, and the process ended once both are
flushed. Here, not in cli/, so a replayed analysis (``lrdoctor.replay``) uses the same code
before the command line loads."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from lrdoctor.replay import Recorder


class Lines(Protocol):
    """Where lrdoctor's lines on stderr go: rich's Console, or ``PlainLines``."""

    file: TextIO

    def print(self, line: Any, **how: Any) -> None: ...


class PlainLines:
    """stderr where rich would show nothing but the characters (a pipe, a CI log, a file):
    each line as its plain text, without importing rich (7% of a cached re-analysis).
    ``say`` joins styled pieces (``report.totals``) into their text first."""

    def __init__(self, file: TextIO) -> None:
        self.file = file

    def print(self, line: Any, **how: Any) -> None:
        self.file.write(f"{line}\n")
        self.file.flush()


class Recorded:
    """``lines``, with every line ``say`` says there also told to ``recorder``, as said (text,
    or (text, style) pieces), for the replay of this analysis to say again through ``say``."""

    def __init__(self, lines: Lines, recorder: Recorder) -> None:
        self.lines, self.recorder = lines, recorder


def stderr_lines() -> Lines:
    """rich's Console on stderr where it may colour or draw (a terminal, or FORCE_COLOR or
    TTY_COMPATIBLE set, rich's own signals), plain lines everywhere else."""
    if sys.stderr.isatty() or "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        from rich.console import Console

        return Console(stderr=True)
    return PlainLines(sys.stderr)


def unrecorded(console: Lines | Recorded) -> Lines:
    """The console itself, under a ``Recorded`` one (a progress bar draws on it)."""
    return console.lines if isinstance(console, Recorded) else console


def silence_stdout() -> None:
    """The reader of stdout went away (``lrdoctor ... | head``): it asked for no more, so
    nothing more is shown there and nothing complains, now or when stdout is flushed."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def leave(code: int) -> None:
    """Flush what was printed and end the process with ``code``, without the interpreter's
    teardown of every imported module (numpy, rich), which takes about 30 ms, a fifteenth of
    an analysis served by the run cache. Every file lrdoctor writes is closed by then. (mypy
    ends the same way for the same reason.)"""
    try:
        if sys.stdout is not None:  # None: started with stdout closed (`>&-`)
            sys.stdout.flush()
    except BrokenPipeError:  # the reader left before the last of the report was flushed: the code stands
        silence_stdout()
    if sys.stderr is not None:
        sys.stderr.flush()
    os._exit(code)


def say(console: Lines | Recorded, line: Any) -> None:
    """One line on stderr, unwrapped, so a script can grep it; no emoji codes read into
    a path (``:smile:``). A line of (text, style) pieces is styled where the console can."""
    if isinstance(console, Recorded):
        console.recorder.stderr(line)
        console = console.lines
    if isinstance(line, tuple):
        if isinstance(console, PlainLines):
            line = "".join(piece for piece, _ in line)
        else:
            from rich.text import Text

            line = Text.assemble(*line)
    console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
