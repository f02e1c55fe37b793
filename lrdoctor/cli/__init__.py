"""The command line: parses options and wires the stages; no logic lives here.

Every command is registered below through ``command``, which turns an
``InputError``, an ``OSError``, a closed stdout, an interrupt and any unexpected
exception into one line on stderr and exit code 2 (``--debug`` adds the traceback).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Annotated

import typer

from lrdoctor.errors import InputError
from lrdoctor.version import VERSION
from lrdoctor.words import display

app = typer.Typer(
    name="lrdoctor",
    help="Diagnose PPO runs that collapse from a too-high learning rate, and prescribe the fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}
BROKEN_PIPE = "output closed before the report was written (broken pipe)"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"lrdoctor {VERSION}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr; the caller raises the returned Exit(2)."""
    typer.echo(f"lrdoctor: error: {message}", err=True)
    return typer.Exit(2)


def stdout_gone() -> typer.Exit:
    """The reader of stdout went away (``| head``): nothing more can be shown there, and
    nothing may complain about it again when stdout is flushed; the caller raises the Exit(2)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return fail(BROKEN_PIPE)


def command(name: str):
    """Register a command whose errors, expected or not, end as one line and exit code 2."""

    def register(func):
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.TyperException):
                raise  # exit codes and usage errors typer already reports
            except BrokenPipeError:
                raise stdout_gone() from None
            except KeyboardInterrupt:
                # Ctrl-C or a cancelled CI job: neither findings (1) nor bad input (2), but 130, the
                # shell's 128 + SIGINT; reports are written atomically, so nothing is half-written.
                typer.echo("lrdoctor: interrupted", err=True)
                raise typer.Exit(INTERRUPTED) from None
            except SystemExit as exc:
                # rich's Console answers a closed stdout with SystemExit(1), which would read as
                # "findings"; lrdoctor itself only ends through typer.Exit.
                if exc.code in (0, None):
                    raise
                raise fail(BROKEN_PIPE) from None
            except Exception as exc:  # noqa: BLE001 -- the one place every error becomes one line
                if _state["debug"]:
                    traceback.print_exc()
                raise fail(error_line(exc)) from None

        app.command(name)(guarded)
        return func

    return register


def error_line(exc: Exception) -> str:
    """What the user reads about ``exc``: its own message for input errors, the path
    and the system's reason for OS errors, and for anything else a bug report line."""
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename2 if exc.filename2 is not None else exc.filename
        reason = exc.strerror or str(exc) or type(exc).__name__
        if isinstance(where, (str, bytes, os.PathLike)):
            return f"{display(os.fsdecode(where))}: {reason}"
        return reason
    detail = " ".join(str(exc).split()) or "no message"
    return f"internal error: {type(exc).__name__}: {detail} (rerun with --debug for the traceback)"


def main() -> None:
    """The console script: run the command, flush what it printed, and leave without the
    interpreter's teardown of every imported module (pydantic, numpy, rich), which takes
    about 30 ms, a fifteenth of a cached re-analysis. Every file lrdoctor writes is closed
    by then. (mypy ends the same way for the same reason.)"""
    try:
        app()
        code = 0
    except SystemExit as exit:
        code = exit.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left before the last of the report was flushed
        code = stdout_gone().exit_code
    sys.stderr.flush()
    os._exit(code)


# Commands register themselves on import.
from lrdoctor.cli import (
    analyze,  # noqa: E402,F401
    check,  # noqa: E402,F401
    diff,  # noqa: E402,F401
    rules,  # noqa: E402,F401
    schedule,  # noqa: E402,F401
    watch,  # noqa: E402,F401
)
