"""`lrdoctor check`: the CI gate over training configs (YAML, JSON, TOML)."""

import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lrdoctor.cli import command, to_stdout
from lrdoctor.errors import InputError
from lrdoctor.exitcode import FailOn
from lrdoctor.rules.options import load_options
from lrdoctor.words import display
from lrdoctor.write import output_file, refuse_inside, write_atomic


class CheckFormat(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"


@command("check")
def check(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Config files, or directories searched for *.yaml, *.yml, *.json, *.toml.")
    ],
    format: Annotated[
        CheckFormat,
        typer.Option("--format", "-f", help="text (path:line:col: CODE severity [unit] message, then the source line and a caret), "
             "concise (the first line alone), json, sarif, github."),
    ] = CheckFormat.text,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report here, not stdout (- is stdout).")] = None,
    fail_on: Annotated[
        Optional[FailOn],
        typer.Option(
            "--fail-on", help="Lowest severity that exits 1 (default: error, or fail-on from the config file)."
        ),
    ] = None,
    select: Annotated[
        Optional[list[str]], typer.Option("--select", help="Only these rules: codes, slugs or prefixes.")
    ] = None,
    ignore: Annotated[
        Optional[list[str]], typer.Option("--ignore", help="Skip these rules: codes, slugs or prefixes.")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", help="lrdoctor.toml or pyproject.toml to read options from.")
    ] = None,
    baseline: Annotated[
        Optional[Path], typer.Option("--baseline", help="Report only findings not in this baseline file.")
    ] = None,
    write_baseline: Annotated[
        Optional[Path], typer.Option("--write-baseline", help="Record every finding here as the baseline; exit 0.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="A unit lrdoctor could not understand (LRD016) is an error, not info.")
    ] = False,
) -> None:
    """Lint training configs: fail on a recurrent policy with a constant LR or without warmup.

    A file or unit that cannot be read is an LRD013 error finding, and the others are still checked.
    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error (a path that does not exist
    or holds no config file).
    """
    # the YAML parser and the config linter are loaded by `check` alone, not by every command
    from lrdoctor.check import check_paths
    from lrdoctor.check.baseline import is_baseline
    from lrdoctor.check.baseline import load as load_baseline
    from lrdoctor.check.baseline import render as render_baseline
    from lrdoctor.report.check import FORMATTERS, summary_line

    options = load_options(
        cwd=Path.cwd(),
        config=config,
        select=select,
        ignore=ignore,
        fail_on=fail_on.value if fail_on is not None else None,
        severity_overrides={"LRD016": "error"} if strict else None,
    )
    output = output_file(output)
    refuse_inside([output], [*paths, *([Path(options.source)] if options.source else [])])
    if write_baseline is not None and write_baseline.exists() and not is_baseline(write_baseline):
        raise InputError(f"{display(str(write_baseline))}: exists and is not an lrdoctor baseline; not overwritten")
    known = load_baseline(baseline) if baseline is not None else None
    result = check_paths(paths, options)
    if write_baseline is not None:
        write_atomic(write_baseline, render_baseline(result.findings))
        typer.echo(f"{summary_line(result)}; baseline of {len(result.findings)} written", err=True)
        raise typer.Exit(0)
    in_baseline = 0
    if known is not None:
        fresh, in_baseline = known.new(result.findings)
        result = replace(result, findings=tuple(fresh))
    if format is CheckFormat.text:  # colour only on a terminal, never in a file or a pipe
        rendered = FORMATTERS["text"](result, colour=output is None and sys.stdout.isatty())
    else:
        rendered = FORMATTERS[format.value](result)
    if output is None:
        with to_stdout():
            typer.echo(rendered, nl=False)
    else:
        write_atomic(output, rendered)
    typer.echo(summary_line(result) + (f" ({in_baseline} more in the baseline)" if in_baseline else ""), err=True)
    raise typer.Exit(result.exit_code(options.fail_on))
