"""`lrdoctor plot-schedule`: the recommended schedule as a table, points and a figure."""

import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from lrdoctor.cli import command
from lrdoctor.cli.analyze import cache_outside
from lrdoctor.errors import InputError
from lrdoctor.lines import say, stderr_lines
from lrdoctor.schedule import Schedule
from lrdoctor.words import display, format_lr, format_steps
from lrdoctor.write import output_file, refuse_inside, write_atomic

if TYPE_CHECKING:
    from rich.table import Table


class ScheduleFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
MAX_POINTS = 100_000  # finer than any optimizer step count needs; 1e8 points took minutes and gigabytes
MAX_STEPS = 2**63 - 1  # the largest step an event file records (int64); 1e300 overflowed the points
MAX_BASE_LR = 1e3  # beyond any optimizer's LR; 1e308 overflowed the figure's LR axis
_STEP_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}


def parse_steps(text: str) -> int:
    """Parse a human step count into a positive integer number of steps."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    multiplier = 1.0
    if cleaned and cleaned[-1].upper() in _STEP_SUFFIXES:
        multiplier = _STEP_SUFFIXES[cleaned[-1].upper()]
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * multiplier
    except ValueError:
        raise InputError(f"not a step count: {text!r} (expected e.g. 20M, 500K, 2e7)") from None
    if not math.isfinite(value) or value <= 0 or value != round(value):
        raise InputError(f"not a positive whole number of steps: {text!r}")
    if value > MAX_STEPS:
        raise InputError(f"too many steps: {text!r} (at most {MAX_STEPS:,}, the largest step an event file records)")
    return int(round(value))


@command("plot-schedule")
def plot_schedule(
    base_lr: Annotated[float, typer.Option(help="Peak learning rate B.")] = 3e-4,
    total_steps: Annotated[str, typer.Option(help="Total steps T, e.g. 20M, 500K, 2e7.")] = "20M",
    start_factor: Annotated[float, typer.Option(help="LR at step 0, as a fraction of B.")] = 0.01,
    slow_end: Annotated[float, typer.Option(help="End of the ultra-slow start, fraction of T.")] = 0.025,
    slow_factor: Annotated[float, typer.Option(help="LR at the end of the ultra-slow start, fraction of B.")] = 0.1,
    ramp_end: Annotated[float, typer.Option(help="End of the warmup ramp (LR reaches B), fraction of T.")] = 0.25,
    hold_until: Annotated[float, typer.Option(help="Hold B until this fraction of T before decaying.")] = 0.25,
    final_factor: Annotated[float, typer.Option(help="LR at T, as a fraction of B.")] = 0.1,
    format: Annotated[
        ScheduleFormat, typer.Option("--format", "-f", help="table for people; csv or json points for tools.")
    ] = ScheduleFormat.table,
    points: Annotated[int, typer.Option(help="Evenly spaced points to add to the phase boundaries (csv/json).")] = 0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write csv/json here, not stdout (- is stdout).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Draw the schedule to this .png, .svg or .pdf.")] = None,
    run: Annotated[Optional[Path], typer.Option("--run", help="Draw this run's logged LR over the recommendation.")] = None,
) -> None:
    """Compute the recommended warmup schedule; print it, export it, draw it."""
    schedule = Schedule(
        base_lr=base_lr,
        total_steps=parse_steps(total_steps),
        start_factor=start_factor,
        slow_end=slow_end,
        slow_factor=slow_factor,
        ramp_end=ramp_end,
        hold_until=hold_until,
        final_factor=final_factor,
    )
    if base_lr > MAX_BASE_LR:
        raise InputError(f"--base-lr must be at most {MAX_BASE_LR:g}, got {base_lr:g}")
    if not 0 <= points <= MAX_POINTS:
        raise InputError(f"--points must be between 0 and {MAX_POINTS:,}")
    if out is not None and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise InputError(f"--out must end in one of {', '.join(FIGURE_SUFFIXES)}: {out}")
    output = output_file(output)
    logged = _load_single_run(run) if run is not None and out is not None else None
    # the run as named and as found (a link may lead elsewhere): nothing is written into it
    refuse_inside([output, out], [run, logged.path] if logged is not None else [run] if run is not None else [])

    if format is ScheduleFormat.table:
        from rich.console import Console

        Console().print(phase_table(schedule))
    else:
        text = schedule.as_json(points) if format is ScheduleFormat.json else schedule.as_csv(points)
        if output is None:
            typer.echo(text, nl=False)
        else:
            write_atomic(output, text)
            wrote(output)

    if out is not None:
        from lrdoctor.report.figures import draw_schedule

        draw_schedule(schedule, out, run=logged)
        wrote(out)


def phase_table(schedule: Schedule) -> "Table":
    from rich.table import Table

    table = Table(
        title=f"Recommended schedule: base LR {format_lr(schedule.base_lr)}, {format_steps(schedule.total_steps)} steps",
        title_justify="left",
    )
    for header in ("phase", "steps", "LR", "expected KL", "purpose"):
        table.add_column(header)
    for phase in schedule.phases:
        low, high = phase.kl_band
        table.add_row(
            f"{phase.number} {phase.name}",
            f"{format_steps(phase.start_step) if phase.start_step else '0'} → {format_steps(phase.end_step)}",
            f"{format_lr(phase.start_lr)} → {format_lr(phase.end_lr)}",
            f"< {high:g}" if low == 0 else f"{low:g}–{high:g}",
            phase.purpose,
        )
    return table


def _load_single_run(path: Path):
    from lrdoctor.read.ingest import load_runs

    runs = load_runs(path, use_cache=cache_outside([path], stderr_lines()))
    if len(runs) != 1:
        raise InputError(f"--run expects one run, found {len(runs)} under {path}")
    return runs[0]


def wrote(path: Path) -> None:
    """Say on stderr where a file went; the name printed as it is, never as rich markup."""
    say(stderr_lines(), f"wrote {display(str(path))}")
