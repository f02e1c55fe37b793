"""The command line: parses options and wires the stages; no logic lives here.

Every command is registered below through ``command``, which turns an
``InputError``, an ``OSError``, an interrupt and any unexpected exception into one
line on stderr and exit code 2 (``--debug`` adds the traceback). A usage error is one
line and exit 2 as well (``Group``); a closed stdout (``| head``) is silent.
"""

import functools
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import MethodType
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer >= 0.29 carries its own click
from typer.core import TyperCommand, TyperGroup

from lrdoctor.cli import values
from lrdoctor.errors import InputError
from lrdoctor.lines import leave, silence_stdout
from lrdoctor.version import VERSION
from lrdoctor.words import display

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C
USAGE = 2


def value_hint(param, ctx) -> str | None:
    """What an option takes, in the help, as a user types it: ``PATH``, ``INTEGER``, the
    choices ``text|json``, nothing for a flag; never typer's Python types (``<list[Path]>``, ``<bool>``)."""
    if param.metavar is not None:  # an argument's metavar is already its name in the help
        return None if param.param_type_name == "argument" else param.metavar
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    shown = type(param).display_type(param, ctx).strip("<>")
    shown = shown.removeprefix("list[").removesuffix("]")
    return {"bool": None, "int range": "INTEGER", "int": "INTEGER", "float": "NUMBER", "str": "TEXT"}.get(
        shown, shown.upper() if shown in ("path", "file", "directory") else shown
    )


def plain_types(command, ctx) -> None:
    for param in command.get_params(ctx):
        param.display_type_rich = MethodType(value_hint, param)


class PlainValues:
    """Help that names values as a user types them (``value_hint``), and values coerced
    without pydantic (``values``): for the root command and every command alike."""

    def format_help(self, ctx, formatter) -> None:
        plain_types(self, ctx)
        super().format_help(ctx, formatter)

    def parse_args(self, ctx, args):
        values.install(self.get_params(ctx))
        return super().parse_args(ctx, args)


class Command(PlainValues, TyperCommand):
    """A command, as ``PlainValues``."""


class Group(PlainValues, TyperGroup):
    """The root command: as ``PlainValues``, and a usage error as ONE line and exit 2,
    ``lrdoctor: error: Missing argument 'PATH...'. (lrdoctor analyze --help)``, like ruff's
    or git's, instead of typer's five-line box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError:
            sys.exit(USAGE)  # the help was printed as the error was made
        except ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" ({ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"lrdoctor: error: {display(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("lrdoctor: interrupted", err=True)
            sys.exit(INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="lrdoctor",
    cls=Group,
    help="Diagnose PPO runs that collapse from a too-high learning rate, and prescribe the fix.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


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


@contextmanager
def to_stdout() -> Iterator[None]:
    """Around printing a verdict on stdout: a closed pipe ends the printing silently and the
    command goes on to exit with the code its findings give. ``lrdoctor check . | head`` in
    CI must still fail the job on an error, so a closed pipe is never exit 0 for a gate.
    (rich's Console answers a closed stdout with SystemExit(1), after silencing it.)"""
    try:
        yield
    except BrokenPipeError:
        silence_stdout()
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        silence_stdout()


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
                # a command without a verdict (rules, plot-schedule) whose reader left: it was done
                silence_stdout()
                raise typer.Exit(0) from None
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
                silence_stdout()
                raise typer.Exit(0) from None
            except Exception as exc:  # noqa: BLE001 -- the one place every error becomes one line
                if _state["debug"]:
                    traceback.print_exc()
                raise fail(error_line(exc)) from None

        app.command(name, cls=Command)(guarded)
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
    """Run the command (for the console script, ``lrdoctor.__main__``, when there is nothing
    to replay) and end the process with its code (``lines.leave``)."""
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
    leave(code)


BLAS_THREADS = "OPENBLAS_NUM_THREADS"


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Around the first import of numpy: its OpenBLAS starts one thread per core, and each
    spins for about 0.1 s of CPU before it sleeps, on the core a worker or this process
    needs (a tenth of a cached re-analysis on 2 cores). lrdoctor multiplies no large
    matrices, so one thread does; the setting is taken back after, so a command that
    ``watch --exec`` starts gets the environment as the user set it."""
    ours = BLAS_THREADS not in os.environ
    if ours:
        os.environ[BLAS_THREADS] = "1"
    try:
        yield
    finally:
        if ours:
            os.environ.pop(BLAS_THREADS, None)


# Commands register themselves on import (and import numpy).
with one_blas_thread():
    from lrdoctor.cli import (
        analyze,  # noqa: E402,F401
        check,  # noqa: E402,F401
        diff,  # noqa: E402,F401
        rules,  # noqa: E402,F401
        schedule,  # noqa: E402,F401
        watch,  # noqa: E402,F401
    )
