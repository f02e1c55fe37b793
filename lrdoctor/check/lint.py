"""``lrdoctor check``: find config files, split them into units, read, judge, filter.

discover -> read text -> parse (loaders) -> units -> records (formats) -> problems
(each rule's ``check_config``) -> findings (slug and severity from the rule engine) ->
suppressions and allow-list. A file that cannot be parsed is reported and the
others are still checked; what happened to each file is in ``CheckResult``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from lrdoctor import rules
from lrdoctor.check.suppress import is_allowed, is_suppressed
from lrdoctor.configs.formats import read_unit
from lrdoctor.configs.loaders import SUFFIXES, ParseError, Skipped, load, read_text
from lrdoctor.configs.split import split_units
from lrdoctor.errors import InputError
from lrdoctor.exitcode import INPUT_ERROR, exit_code
from lrdoctor.model import Finding, Severity
from lrdoctor.rules import engine
from lrdoctor.rules.options import Options
from lrdoctor.words import display as printable

# Directories no training config lives in, skipped when searching (explicit files are always read).
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})


@dataclass(frozen=True)
class FileProblem:
    """A file that was not checked: a parse error (``fatal``: exit 2) or a skip (binary, too large)."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    fatal: bool = False

    def text(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line is not None else self.file
        return f"{where}: {'parse error ' if self.fatal else ''}{self.message}"


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    problems: tuple[FileProblem, ...]
    files: int
    units: int

    def exit_code(self, fail_on: str) -> int:
        if any(problem.fatal for problem in self.problems):
            return INPUT_ERROR
        return exit_code(self.findings, fail_on)


def discover(paths: Sequence[Path]) -> list[Path]:
    """Config files under the paths, in a stable order; hidden directories are not searched."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for directory, subdirectories, files in os.walk(path):
                subdirectories[:] = sorted(
                    d for d in subdirectories if not d.startswith(".") and d not in SKIPPED_DIRECTORIES
                )
                found += [Path(directory) / f for f in sorted(files) if f.lower().endswith(SUFFIXES)]
        elif path.exists():  # not only regular files: read_text says why a pipe or device is skipped
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    # each file once, however many arguments reach it: a finding counted twice misleads the gate
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def check_paths(paths: Sequence[Path], options: Options) -> CheckResult:
    findings: list[Finding] = []
    problems: list[FileProblem] = []
    units = 0
    files = discover(paths)
    for path in files:
        shown = display(path)
        if not shown.lower().endswith(SUFFIXES):
            problems.append(FileProblem(shown, "not a YAML, JSON or TOML file", fatal=True))
            continue
        try:
            text = read_text(path)
        except Skipped as skipped:
            problems.append(FileProblem(shown, str(skipped)))
            continue
        file_findings, problem, count = check_text(shown, text, options)
        findings += file_findings
        units += count
        if problem is not None:
            problems.append(problem)
    return CheckResult(tuple(findings), tuple(problems), len(files), units)


def check_text(file: str, text: str, options: Options) -> tuple[list[Finding], FileProblem | None, int]:
    """Findings of one file's text (``file`` is the name shown, its suffix picks the parser)."""
    try:
        document = load(Path(file), text)
    except ParseError as error:
        return [], FileProblem(file, error.message, error.line, error.column, fatal=True), 0
    findings: list[Finding] = []
    units = split_units(document)
    for unit in units:
        if is_allowed(file, unit.name, options.allow):
            continue
        record = read_unit(document, unit, file)
        for code, module in rules.RULES.items():
            if code not in options.select or not hasattr(module, "check_config"):
                continue
            for problem in module.check_config(record, options.rule_options[code]):
                if document.has_comments and is_suppressed(code, document.lines, problem.line, unit.line):
                    continue
                findings.append(engine.finding(code, problem, options, file=file))
    return findings, None, len(units)


def display(path: Path) -> str:
    """The path as the user will recognise it: relative to the working directory when inside it;
    control characters escaped, so a file name in a pull request cannot start a line of its own."""
    try:
        shown = path.resolve().relative_to(Path.cwd().resolve()).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        shown = path.as_posix()
    return printable(shown)


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    tally = {"error": 0, "warning": 0, "info": 0}
    for finding in findings:
        tally[Severity(finding.severity).value] += 1
    return tally
