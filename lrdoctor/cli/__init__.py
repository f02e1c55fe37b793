"""The command line: parses options and wires the stages; no logic lives here.

Every command is registered below through ``command``, which turns an
``InputError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import traceback
from typing import Annotated

import typer

from lrdoctor.errors import InputError

app = typer.Typer(
    name="lrdoctor",
    help="Diagnose PPO runs that collapse from a too-high learning rate, and prescribe the fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug


def fail(message: str) -> typer.Exit:
    """Print one error line on stderr; the caller raises the returned Exit(2)."""
    typer.echo(f"lrdoctor: error: {message}", err=True)
    return typer.Exit(2)


def command(name: str):
    """Register a command whose input errors end as one line and exit code 2."""

    def register(func):
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except InputError as exc:
                if _state["debug"]:
                    traceback.print_exc()
                raise fail(str(exc)) from None

        app.command(name)(guarded)
        return func

    return register


def main() -> None:
    app()


# Commands register themselves on import.
from lrdoctor.cli import schedule  # noqa: E402,F401
from lrdoctor.cli import rules  # noqa: E402,F401
from lrdoctor.cli import analyze  # noqa: E402,F401
from lrdoctor.cli import check  # noqa: E402,F401
