"""`lrdoctor analyze PATH...`: read every run under the paths, run the rules, report.

Whatever ``--format`` asks for goes to stdout or ``--output``; the progress bar,
read problems and the one-line summary go to stderr, so
``lrdoctor analyze runs/ --format json > report.json`` stays clean.
"""

import functools
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional, Sequence

import typer

from lrdoctor import replay
from lrdoctor.cli import command, to_stdout
from lrdoctor.errors import InputError
from lrdoctor.exitcode import FailOn, exit_code
from lrdoctor.insight.sweep import MIN_RUNS, Insight, sweep_insight
from lrdoctor.lines import Lines, Recorded, say, stderr_lines, unrecorded
from lrdoctor.model import ReadNote, RunResult
from lrdoctor.read import ingest, tbparse_reader
from lrdoctor.report import FORMATTERS, INSIGHT_FIGURE, SWEEP_FIGURE, Report, figure_file_names, totals, worst_first
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options
from lrdoctor.words import display
from lrdoctor.write import inside, output_file, refuse_inside, write_atomic


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


class Reader(str, Enum):
    lrdoctor = "lrdoctor"
    tbparse = "tbparse"


class PlotFormat(str, Enum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


class ArchKind(str, Enum):
    gru = "gru"
    lstm = "lstm"
    rnn = "rnn"
    attention = "attention"
    mamba = "mamba"
    mlp = "mlp"
    cnn = "cnn"


@command("analyze")
def analyze(
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Run directories, event files or progress.csv files, local or URLs (s3://, gs://, az://); searched recursively.")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format, on stdout or --output.")] = ReportFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file instead of stdout (- is stdout).")] = None,
    fail_on: Annotated[
        Optional[FailOn], typer.Option("--fail-on", help="Exit 1 on findings at or above this severity. [default: error, or the config file's]")
    ] = None,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Run only these rules: codes, slugs or prefixes (repeatable).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules: codes, slugs or prefixes (repeatable).")] = None,
    settings: Annotated[
        Optional[list[str]], typer.Option("--set", metavar="RULE.OPTION=VALUE", help="Set a rule option, e.g. kl-exceeded.threshold=0.03 (repeatable).")
    ] = None,
    tags: Annotated[
        Optional[list[str]], typer.Option("--tag", metavar="METRIC=TAG", help="Read a metric from this tag, e.g. kl=my/approx_kl (repeatable).")
    ] = None,
    arch: Annotated[Optional[ArchKind], typer.Option("--arch", help="The architecture of every run, when the logs do not say.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Runs read in parallel.")] = os.cpu_count() or 1,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Read every event file again, ignoring the cache.")] = False,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Draw one figure per run (and a sweep overview) into this directory.")] = None,
    plot_format: Annotated[PlotFormat, typer.Option("--plot-format", help="File format of the figures.")] = PlotFormat.png,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each finding's evidence, which tag fed each metric, and the unknown tags.")] = False,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", metavar="ADDRESS", help="Read the runs on this Dask scheduler's workers, e.g. tcp://head:8786.")] = None,
    cluster: Annotated[Optional[int], typer.Option("--cluster", min=1, metavar="N", help="Read the runs on a local Dask cluster of N worker processes.")] = None,
    reader: Annotated[Reader, typer.Option("--reader", help="Event-file reader: lrdoctor's own, or tbparse, the reference it is tested against (slower, never cached; pip install 'lrdoctor[tbparse]').")] = Reader.lrdoctor,
) -> None:
    """Diagnose runs: KL over target, LR shape, entropy, collapse; and prescribe the schedule."""
    if sys.stdout is None and output_file(output) is None:  # started with no stdout at all (`>&-`)
        raise InputError("stdout is closed: nowhere to write the report (give -o FILE)")
    # Before anything is read: a replay's snapshot is of the inputs as they were then (lrdoctor.replay).
    replayable = (plots is None and scheduler is None and cluster is None and reader is Reader.lrdoctor
                  and not no_cache and not any(ingest.remote.is_remote(path) for path in paths))
    recorder = replay.recorder(paths) if replayable else None
    options = load_options(
        select=select,
        ignore=ignore,
        rule_settings=assignments(settings or [], "--set", "RULE.OPTION=VALUE"),
        fail_on=fail_on.value if fail_on else None,
    )
    tag_overrides = assignments(tags or [], "--tag", "METRIC=TAG")
    output = output_file(output)
    if scheduler is not None and cluster is not None:
        raise InputError("--scheduler and --cluster: give one of them")
    if reader is Reader.tbparse:
        if not tbparse_reader.available():
            raise InputError(f"--reader tbparse: tbparse is not installed ({tbparse_reader.INSTALL})")
        if any(ingest.remote.is_remote(path) for path in paths):
            raise InputError("--reader tbparse reads local paths only")
        no_cache = True  # the reference reader's numbers, never a cached reading of the other
    local_paths = [Path(path) for path in paths if not ingest.remote.is_remote(path)]
    reading = [*local_paths, *([Path(options.source)] if options.source else [])]
    refuse_inside([output, plots], reading)  # said before anything is read
    stderr = stderr_lines()
    use_cache = not no_cache and cache_outside(reading, stderr)
    if recorder is not None and use_cache:
        stderr = Recorded(stderr, recorder)
    else:
        recorder = None

    with distributed(scheduler, cluster) as executor, progress_bar(unrecorded(stderr)) as stage:
        ingested = ingest.load(
            [path if ingest.remote.is_remote(path) else Path(path) for path in paths],
            tag_overrides=tag_overrides,
            arch=arch.value if arch else None,
            jobs=jobs,
            use_cache=use_cache,
            on_progress=stage("reading, judging"),
            executor=executor,
            # judged where each run is read; only figures need every point back here
            judge=functools.partial(engine.judged, options=options, keep_points=plots is not None),
            reader=reader.value,
        )
        problems = tuple(ingested.problems)
        for note in (*problems, *(note for run in ingested.runs for note in run.notes)):
            say(stderr, problem_line(note))
        if not ingested.runs:  # each read problem was said above
            raise InputError(ingest.nothing_read(paths))
        # A run reached through a link lives outside the paths named; nothing goes into it either.
        refuse_inside([output, plots], [run.path for run in ingested.runs if isinstance(run.path, Path)])
        results = worst_first(ingested.results)

        figures, sweep = {}, None
        if plots is not None:
            drawn, sweep_path = draw_figures(results, plots, plot_format.value, stage("drawing figures"))
            base = output.parent if output is not None else Path.cwd()
            figures = {run_path: link(path, base) for run_path, path in drawn.items()}
            sweep = link(sweep_path, base) if sweep_path else None
    if plots is not None:
        say(stderr, f"figures: {plots}")

    insight, insight_figure = insight_of(results, plots, plot_format.value, output)
    log_files = {str(run.path): tuple(map(str, files)) for run, files in zip(ingested.runs, ingested.log_files)}
    report = Report(
        results, problems, figures, sweep, verbose, log_files=log_files, insight=insight, insight_figure=insight_figure
    )
    printed = False
    if format is ReportFormat.text and output is None:
        # A file or pipe gets the width of a saved report, a terminal its own.
        from rich.console import Console

        from lrdoctor.report import text

        with to_stdout():
            stdout = replay.Tee(sys.stdout, recorder) if recorder is not None else None
            text.print_report(Console(file=stdout, width=None if sys.stdout.isatty() else text.WIDTH), report)
            printed = True
    else:
        content = FORMATTERS[format.value](report)
        if output is None:
            with to_stdout():
                sys.stdout.write(content)
                sys.stdout.flush()
                printed = True
            if recorder is not None:
                recorder.stdout(content)
        else:
            write_atomic(output, content)
            printed = True
            if recorder is not None:
                runs_read = [str(run.path) for run in ingested.runs]
                recorder.wrote(output, content, [*map(str, reading), *runs_read])
            say(stderr, f"wrote {display(str(output))}")
        say(stderr, totals(report))
    code = exit_code(report.findings, options.fail_on)
    # Not kept when anything could not be read: a read that failed may not fail next time.
    read_in_full = not any(not note.info for note in (*problems, *(n for run in ingested.runs for n in run.notes)))
    if recorder is not None and printed and read_in_full:
        recorder.keep(code, [path for result in results for path in result.run.looked_for])
    raise typer.Exit(code)


@contextmanager
def distributed(scheduler: str | None, workers: int | None) -> Iterator[Callable | None]:
    """The cluster executor asked for, if any (Dask is imported only then)."""
    if scheduler is None and workers is None:
        yield None
        return
    from lrdoctor.read import cluster

    with cluster.executor(scheduler, workers) as executor:
        yield executor


def assignments(items: Sequence[str], flag: str, shape: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` as typed after repeated flags, as a dict; a later key wins."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{flag} {item}: expected {shape}")
        parsed[key.strip()] = value.strip()
    return parsed


def cache_outside(reading: Sequence[Path], console: Lines) -> bool:
    """Whether the cache may be used: not when it lies inside a tree being read
    (``LRDOCTOR_CACHE_DIR=run/.cache``), which lrdoctor never writes into; that is said."""
    from lrdoctor.read.cache import cache_dir

    folder = cache_dir().parent
    root = inside(folder, reading)
    if root is not None:
        say(console, f"lrdoctor: note: cache not used: {display(str(folder))} is inside {display(str(root))}, which is being read")
    return root is None


def problem_line(note: ReadNote) -> str:
    """A read problem, or a note on how a run was read (``ReadNote.info``), on one line."""
    where = note.path + (f" @ byte {note.offset}" if note.offset is not None else "")
    return f"lrdoctor: {'note' if note.info else 'read problem'}: {where}: {note.message}"


Progress = Callable[[int, int], None]


@contextmanager
def progress_bar(console: Lines) -> Iterator[Callable[[str], Progress | None]]:
    """One bar on stderr over the stages of a sweep: ``stage("reading runs")`` returns the
    ``on_progress(done, total)`` that stage reports through (ingest's contract, whoever calls
    it: a local pool or a distributed executor). None, and no bar, when stderr is not a
    terminal: a pipe, a CI log and ``--format json > file`` get nothing but their lines."""
    if not console.file.isatty():  # not rich's is_terminal, which FORCE_COLOR turns on in CI logs
        yield lambda description: None
        return
    # here: rich.progress is imported only where a bar is drawn (a hundredth of a second of start-up)
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with RichProgress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def stage(description: str) -> Progress:
            progress.reset(task, description=description, total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return advance

        yield stage


def draw_figures(
    results: Sequence[RunResult], directory: Path, extension: str, on_progress: Progress | None = None
) -> tuple[dict[str, Path], Path | None]:
    """One figure per run (keyed by run path) into ``directory``, never beside the runs;
    and a sweep overview when there are several runs."""
    from lrdoctor.report import figures  # matplotlib only when figures are asked for

    names = figure_file_names((r.run.name for r in results), extension)
    total = len(results) + (len(results) > 1)
    drawn = {}
    for done, (result, name) in enumerate(zip(results, names), start=1):
        drawn[str(result.run.path)] = figures.draw_run(result, directory / name)
        if on_progress:
            on_progress(done, total)
    sweep = figures.draw_sweep(results, directory / f"{SWEEP_FIGURE}.{extension}") if len(results) > 1 else None
    if on_progress:
        on_progress(total, total)
    return drawn, sweep


def insight_of(
    results: Sequence[RunResult], plots: Path | None, extension: str, output: Path | None
) -> tuple[Insight | None, str | None]:
    """The sweep insight over a sweep of MIN_RUNS runs or more, and the link of its figure
    when --plots draws figures."""
    if len(results) < MIN_RUNS:
        return None, None
    found = sweep_insight(results)
    if plots is None:
        return found, None
    from lrdoctor.report import figures  # matplotlib only when figures are asked for

    drawn = figures.draw_insight(found, plots / f"{INSIGHT_FIGURE}.{extension}")
    base = output.parent if output is not None else Path.cwd()
    return found, link(drawn, base) if drawn else None


def link(path: Path, base: Path) -> str:
    """A figure's path relative to where the report is read from, with forward slashes."""
    return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
