"""``lrdoctor check``: find config files, split them into units, read, judge, filter.

discover -> read text -> parse (loaders) -> units -> records (formats) -> problems
(each rule's ``check_config``) -> findings (slug and severity from the rule engine) ->
suppressions and allow-list.

The gate fails closed: a file that cannot be read or parsed, and a unit that goes over a
reading budget, is an LRD013 config-unreadable finding (an error by default), and the
other files and units are still judged. What was given must hold something to judge: a
path with no config file under it is a usage error (exit 2), not a pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from lrdoctor import rules
from lrdoctor.check.baseline import is_baseline
from lrdoctor.check.suppress import is_allowed, is_suppressed
from lrdoctor.configs.compose import read_document
from lrdoctor.configs.formats import read_unit
from lrdoctor.configs.loaders import SUFFIXES, ParseError, Skipped, read_text, system_location
from lrdoctor.configs.record import UnitRecord
from lrdoctor.configs.split import split_units
from lrdoctor.errors import InputError
from lrdoctor.exitcode import exit_code
from lrdoctor.model import Finding, Severity
from lrdoctor.rules import config_unreadable, engine
from lrdoctor.rules.common import Problem
from lrdoctor.rules.options import Options
from lrdoctor.words import display as printable

# Directories no training config lives in, skipped when searching (explicit files are always read).
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
UNREADABLE = config_unreadable.CODE
SUFFIX_WORDS = ", ".join(f"*{suffix}" for suffix in SUFFIXES)


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` judged: its findings, and how many files and units it read. ``unread``
    counts the files and units that could not be read (each an LRD013 finding when selected)."""

    findings: tuple[Finding, ...]
    files: int
    units: int
    unread: int
    # The source line of each finding, by file as shown and line number, for the full text output.
    sources: Mapping[str, Mapping[int, str]] = field(default_factory=dict)

    def exit_code(self, fail_on: str) -> int:
        return exit_code(self.findings, fail_on)


def discover(paths: Sequence[Path]) -> list[Path]:
    """Config files under the paths, in a stable order; hidden directories are not searched.

    Raises InputError for a path that does not exist, a file given by name that is not
    YAML, JSON or TOML, a system directory (/proc, /sys, /dev), and a directory with no
    config file under it: a gate that was pointed at nothing must not pass."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            system = system_location(path)
            if system is not None:
                raise InputError(f"{printable(str(path))}: {system}: not searched")
            files = _walk(path)
            if not files:
                raise InputError(f"{printable(str(path))}: no config file ({SUFFIX_WORDS}) under it")
            found += files
        elif path.exists():  # not only regular files: read_text says why a pipe or device is not read
            if not path.name.lower().endswith(SUFFIXES):
                raise InputError(f"{printable(str(path))}: not a YAML, JSON or TOML file ({SUFFIX_WORDS})")
            found.append(path)
        elif path.is_symlink():
            raise InputError(f"{printable(str(path))}: a link that leads nowhere (dangling, or a loop)")
        else:
            raise InputError(f"{printable(str(path))}: no such file or directory")
    # each file once, however many arguments reach it: a finding counted twice misleads the gate
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def _walk(directory: Path) -> list[Path]:
    """The config files below a directory. Links to directories are not followed (so a link
    loop ends nothing), and /proc, /sys and /dev are not entered when walking from /."""
    found: list[Path] = []
    for parent, subdirectories, files in os.walk(directory):
        subdirectories[:] = sorted(
            d for d in subdirectories
            if not d.startswith(".") and d not in SKIPPED_DIRECTORIES and system_location(Path(parent) / d) is None
        )
        found += [Path(parent) / f for f in sorted(files) if f.lower().endswith(SUFFIXES)]
    return found


def check_paths(paths: Sequence[Path], options: Options) -> CheckResult:
    findings: list[Finding] = []
    sources: dict[str, Mapping[int, str]] = {}
    units = unread = 0
    files = [path for path in discover(paths) if not is_baseline(path)]
    for path in files:
        shown = display(path)
        try:
            text = read_text(path)
        except Skipped as skipped:
            unread += 1
            findings += _unreadable(config_unreadable.not_read(skipped.reason), shown, options)
            continue
        result = check_text(shown, text, options, path)
        findings += result.findings
        sources.update(result.sources)
        units += result.units
        unread += result.unread
    return CheckResult(tuple(findings), len(files), units, unread, sources)


# What a hostile file can still cost a parser beyond the loaders' own limits: it ends that
# file or unit, as an LRD013 finding, never the gate.
OUT_OF_RESOURCES = (RecursionError, MemoryError)


def check_text(file: str, text: str, options: Options, path: Path | None = None) -> CheckResult:
    """One file's text judged (``file`` is the name shown, its suffix picks the parser; ``path``,
    where the file is, is where a Hydra defaults list is looked up, else beside ``file``).
    A file that does not parse, or a unit over a reading budget, is an LRD013 finding."""
    try:
        document = read_document(path if path is not None else Path(file), text)
    except ParseError as error:
        problem = config_unreadable.not_parsed(error.message, error.line, error.column)
        lines = text.splitlines()
        source = {file: {error.line: lines[error.line - 1]}} if 0 < error.line <= len(lines) else {}
        return CheckResult(tuple(_unreadable(problem, file, options)), 1, 0, 1, source)
    except OUT_OF_RESOURCES as error:
        problem = config_unreadable.not_parsed(f"too deep or too large to parse ({type(error).__name__})", 1, 1)
        return CheckResult(tuple(_unreadable(problem, file, options)), 1, 0, 1)
    findings: list[Finding] = []
    units = split_units(document)
    unread = 0
    for unit in units:
        if is_allowed(file, unit.name, options.allow):
            continue
        name = unit.name
        try:
            record = read_unit(document, unit, file)
            name = record.name
            problems = _unit_problems(record, options)
        except ParseError as error:
            unread += 1
            problems = [(UNREADABLE, config_unreadable.unit_not_read(
                printable(unit.name), error.message, error.line, error.column))]
        except OUT_OF_RESOURCES as error:
            unread += 1
            problems = [(UNREADABLE, config_unreadable.unit_not_read(
                printable(unit.name), f"too deep or too large to read ({type(error).__name__})", unit.line, 1))]
        for code, problem in problems:
            if code not in options.select:
                continue
            if document.has_comments and is_suppressed(code, document.lines, problem.line, unit.line):
                continue
            finding = engine.finding(code, problem, options, file=file)
            named = {**finding.evidence, "unit": unit.name, "unit_name": name}
            findings.append(replace(finding, evidence=named))
    shown = {f.line: document.lines[f.line - 1] for f in findings if f.line and 0 < f.line <= len(document.lines)}
    return CheckResult(tuple(findings), 1, len(units), unread, {file: shown} if shown else {})


def _unit_problems(record: UnitRecord, options: Options) -> list[tuple[str, Problem]]:
    """(code, problem) of every selected config rule on one unit."""
    return [
        (code, problem)
        for code, module in rules.RULES.items()
        if code in options.select and hasattr(module, "check_config")
        for problem in module.check_config(record, options.rule_options[code])
    ]


def _unreadable(problem: Problem, file: str, options: Options) -> list[Finding]:
    """A file-level LRD013 finding, unless the rule is not selected or the whole file is allowed."""
    if UNREADABLE not in options.select or is_allowed(file, "", options.allow):
        return []
    return [engine.finding(UNREADABLE, problem, options, file=file)]


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
