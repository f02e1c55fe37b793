"""`lrdoctor watch PATH...`: follow live runs and report each new finding as it appears.

Every ``--every`` a pass (``lrdoctor.live.watch.poll``) reads what the runs appended and
judges the runs that changed. Each new finding is one line on stdout, with the
time it was seen, its step and how far the run had got; on a terminal a small
live table of the runs sits below them (the lines and the table: ``lrdoctor.report.watch``).
Read problems, ``--verbose`` pass lines and the closing summary go to stderr. A path may be
a URL (``s3://``, ``gs://``, ``az://``): a pass then costs one listing, and the new bytes of
what grew (``lrdoctor.live.watch``).

Exit codes: 1 as soon as a finding at or above ``--exit-on`` is seen (after its
pass has been printed and its ``--exec`` commands run), by the policy of the SB3 callback:
a finding about a run's settings (LRD002, ...) only with ``--exit-on-static``, one about its
dynamics once the run has logged more than the grace period's updates (``--exit-on warning``
exits at the collapse forecast, LRD015, before the collapse); 0 when the watch ends
otherwise (Ctrl-C, or ``--passes``/``--once`` done): findings below the exit-on
level, or without ``--exit-on``, were reported and are not a failure of the
watch; 2 for usage and input errors. The configuration file's ``fail-on`` is not
used: a watch keeps watching unless told what should stop it.
"""

import re
import shlex
import signal
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lrdoctor.cli import command
from lrdoctor.cli.analyze import ArchKind, assignments, cache_outside, problem_line
from lrdoctor.errors import InputError
from lrdoctor.exitcode import CLEAN, FINDINGS
from lrdoctor.lines import say
from lrdoctor.live import placeholders
from lrdoctor.read import remote
from lrdoctor.rules.options import load_options

_INTERVAL = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_INTERVAL = 24 * 3600.0  # a day: a watch that polls less often is a cron job; far longer overflowed sleep()
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
EXEC_HELP = (
    "Run this command for each new finding (split like a shell line, run without one). Placeholders, each an"
    " argument of its own: " + ", ".join(f"{{{name}}}" for name in placeholders.PLACEHOLDERS) + "; the same values"
    " are in the environment as " + ", ".join(f"${name}" for name in placeholders.ENVIRONMENT.values()) + "."
)


class ExitOn(str, Enum):
    error = "error"
    warning = "warning"


@command("watch")
def watch(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Directories or files whose runs to follow (recursively), local or URLs (s3://, gs://, az://).")],
    every: Annotated[str, typer.Option("--every", help="Time between passes: 60s, 2m, 0.5s, 500ms.")] = "60s",
    exit_on: Annotated[
        Optional[ExitOn], typer.Option("--exit-on", help="Exit 1 at the first finding about the dynamics at or above this severity"
                                 " (warning: the collapse forecast), after the grace period.")
    ] = None,
    exit_on_static: Annotated[
        bool, typer.Option("--exit-on-static", help="Let --exit-on stop at findings about a run's settings (LRD002, ...).")
    ] = False,
    exec_command: Annotated[Optional[str], typer.Option("--exec", metavar="'CMD {run} {code}'", help=EXEC_HELP)] = None,
    exec_timeout: Annotated[
        str, typer.Option("--exec-timeout", help="Kill an --exec command after this long.")
    ] = "60s",
    passes: Annotated[Optional[int], typer.Option("--passes", min=1, help="Stop after this many passes.")] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then stop (same as --passes 1).")] = False,
    select: Annotated[
        Optional[list[str]], typer.Option("--select", help="Run only these rules: codes, slugs or prefixes.")
    ] = None,
    ignore: Annotated[
        Optional[list[str]], typer.Option("--ignore", help="Skip these rules: codes, slugs or prefixes.")
    ] = None,
    settings: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="RULE.OPTION=VALUE", help="Set a rule option, e.g. kl-exceeded.threshold=0.03."),
    ] = None,
    tags: Annotated[
        Optional[list[str]],
        typer.Option("--tag", metavar="METRIC=TAG", help="Read a metric from this tag, e.g. kl=my/approx_kl."),
    ] = None,
    arch: Annotated[
        Optional[ArchKind], typer.Option("--arch", help="The architecture of every run, when the logs do not say.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not use the event cache for the first read of a file.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="A line on stderr per pass for each run that changed.")
    ] = False,
) -> None:
    """Follow live runs; print each new finding once, as it appears (Ctrl-C to stop).

    Exit 1 at the first finding about the dynamics at or above --exit-on (a warning: the collapse forecast,
    LRD015), once the run is past the grace period; on a settings finding (LRD002) only with --exit-on-static.
    0 on Ctrl-C, SIGTERM or after --passes; 2 on bad input.

    --exec runs a program, never a shell, once per new finding. A placeholder is a whole argument, never part
    of a longer one, so a run's name cannot become code: --exec 'notify-send lrdoctor {message}'. A shell
    script reads the values from the environment, quoted: --exec 'sh -c "notify \\"$LRDOCTOR_RUN\\""'. A value
    that starts with - (a run named --version) is passed only after --, else that command is not run.
    """
    # here: the watch loop, and rich's live table, only for this command
    from rich.console import Console
    from rich.live import Live

    from lrdoctor.live import watch as watching
    from lrdoctor.report.watch import finding_line, run_label, runs_table, summary

    followed = [path if remote.is_remote(path) else Path(path) for path in paths]
    interval = parse_interval(every, "--every")
    timeout = parse_interval(exec_timeout, "--exec-timeout")
    argv = parse_command(exec_command) if exec_command is not None else None
    options = load_options(
        select=select, ignore=ignore, rule_settings=assignments(settings or [], "--set", "RULE.OPTION=VALUE")
    )
    stdout, stderr = Console(), Console(stderr=True)
    config = watching.Settings(
        options=options,
        tag_overrides=assignments(tags or [], "--tag", "METRIC=TAG"),
        arch=arch.value if arch else None,
        # never written inside what is watched
        use_cache=not no_cache and cache_outside([path for path in followed if isinstance(path, Path)], stderr),
    )
    limit = 1 if once else passes
    level = exit_on.value if exit_on else None
    live = Live(console=stdout, auto_refresh=False) if stdout.is_terminal else None

    state = watching.WatchState()
    stopped_by = None
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if live is not None:
            live.start()
        while True:
            started = time.monotonic()
            state, sightings = watching.poll(state, followed, config)
            for note in state.fresh_notes:
                say(stderr, problem_line(note))
            if verbose:
                for key in state.changed:
                    say(stderr, f"pass {state.passes}: {run_label(state.runs[key].result)}")
            for sighting in sightings:
                say(live.console if live is not None else stdout, finding_line(sighting))
                if argv is not None:
                    problem = watching.run_command(watching.command_for(argv, sighting), timeout)
                    if problem:
                        say(stderr, f"lrdoctor: {problem}")
            if live is not None:
                live.update(runs_table(state), refresh=True)
            stopped_by = next((s for s in sightings if watching.exits(
                s, level, state.runs[s.run_path].result, static_too=exit_on_static)), None)
            if stopped_by is not None or (limit is not None and state.passes >= limit):
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if live is not None:
            live.stop()
    say(stderr, summary(state, stopped_by, level))
    raise typer.Exit(FINDINGS if stopped_by is not None else CLEAN)


def _interrupt(signum, frame) -> None:
    """SIGTERM (`timeout`, a cancelled CI job, a process manager) stops a watch like Ctrl-C:
    with the summary of what was seen, not a silent death."""
    raise KeyboardInterrupt


def parse_interval(text: str, option: str) -> float:
    """``60s``, ``2m``, ``0.5s``, ``500ms``, ``1h`` or a bare number of seconds, as seconds,
    more than zero and at most ``MAX_INTERVAL``; an error names ``option``."""
    match = _INTERVAL.fullmatch(text)
    if not match:
        raise InputError(f"{option} {text}: expected a duration such as 60s, 2m, 0.5s or 500ms")
    seconds = float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]
    if not 0 < seconds <= MAX_INTERVAL:  # 400 digits make an infinite float: too long, not zero
        limit = "more than zero" if seconds <= 0 else f"at most {MAX_INTERVAL / 3600:g}h"
        raise InputError(f"{option} {text}: the interval must be {limit}")
    return seconds


def parse_command(text: str) -> list[str]:
    """``--exec`` as arguments (shell quoting rules, no shell), checked: every placeholder is
    known, an argument of its own (pasted into a longer one, a run's name would reach a
    string that ``sh -c`` or ``python -c`` parses) and not the program."""
    try:
        argv = shlex.split(text)
    except ValueError as error:
        raise InputError(f"--exec {text}: {error}") from None
    if not argv:
        raise InputError("--exec: empty command")
    for position, argument in enumerate(argv):
        for name in _PLACEHOLDER.findall(argument):
            if name not in placeholders.PLACEHOLDERS:
                known = ", ".join(placeholders.PLACEHOLDERS)
                raise InputError(f"--exec: unknown placeholder {{{name}}} (known: {known})")
            if position == 0:
                raise InputError(f"--exec {argument}: the program is named, never a placeholder: a run must not choose it")
            if placeholders.placeholder_name(argument) != name:
                variable = placeholders.ENVIRONMENT[name]
                raise InputError(
                    f"--exec: {{{name}}} inside the argument {argument!r}: a placeholder must be an argument of"
                    f" its own; a shell script reads ${variable}, e.g. sh -c 'notify \"${variable}\"'"
                )
    return argv
