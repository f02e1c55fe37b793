"""`lrdoctor diff RUN_A RUN_B`: the settings two runs differ in, and the step where they part."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from lrdoctor.cli import command
from lrdoctor.errors import InputError
from lrdoctor.read import ingest
from lrdoctor.words import display
from lrdoctor.write import output_file, refuse_inside, write_atomic


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


@command("diff")
def diff(
    run_a: Annotated[Path, typer.Argument(help="The first run's directory (or event file, progress.csv).")],
    run_b: Annotated[Path, typer.Argument(help="The second run's directory.")],
    format: Annotated[DiffFormat, typer.Option("--format", "-f", help="Report format, on stdout or --output.")] = DiffFormat.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here, not stdout (- is stdout).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the two runs overlaid, the parting marked, to this file (.png/.svg/.pdf).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Read every event file again, ignoring the cache.")] = False,
) -> None:
    """Compare two runs: which settings differ (with where each was read) and the first step where
    their KL, entropy and return part beyond their own noise. Exit 0, or 2 on bad input."""
    from lrdoctor.insight.diff import diff_runs
    from lrdoctor.report import diff as report

    output = output_file(output)
    refuse_inside([output, plot], [run_a, run_b])
    if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"--plot must end in .png, .svg or .pdf: {display(str(plot))}")
    runs = [_one_run(path, no_cache) for path in (run_a, run_b)]
    refuse_inside([output, plot], [run.path for run in runs])
    found = diff_runs(*runs)
    figure = None
    if plot is not None:
        from lrdoctor.report import figures  # matplotlib only when a figure is asked for

        figure = str(figures.draw_diff(found, plot))
    rendered = (report.render_json if format is DiffFormat.json else report.render_text)(found, figure)
    if output is None:
        typer.echo(rendered, nl=False)
    else:
        write_atomic(output, rendered)
    raise typer.Exit(0)


def _one_run(path: Path, no_cache: bool):
    ingested = ingest.load([path], use_cache=not no_cache)
    if not ingested.runs:
        raise InputError(ingest.nothing_read([path]))
    if len(ingested.runs) > 1:
        names = ", ".join(display(run.name) for run in ingested.runs[:3])
        raise InputError(f"{display(str(path))} holds {len(ingested.runs)} runs ({names}, ...): name one run")
    return ingested.runs[0]
