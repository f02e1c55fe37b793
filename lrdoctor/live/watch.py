"""Follow live runs: re-read what was appended, re-judge what changed, report what is new.

``poll(state, paths, settings)`` is one pass, and the whole logic of ``lrdoctor
watch``: the command only sleeps between passes and prints. A pass

- discovers the runs under the paths again (a run that starts later is picked up);
- stats every file of every run; a run whose files kept their size and mtime is
  not read and not judged again, so a pass over quiet runs costs a directory walk
  and one ``stat`` per file;
- reads, for an event file that grew, only the records after the point the
  previous pass stopped at (``end_offset``, a record boundary), and appends them
  to what it holds in memory; a file that shrank or was replaced is read again.
  The first read of a file goes through the disk cache (``lrdoctor.read.cache``), so
  starting to watch a big finished sweep costs what ``analyze`` costs; a
  ``progress.csv`` (one row per rollout: small), a W&B run's ``.wandb`` file, a Tune
  ``result.json`` or an MLflow run is read again whole when one of its files changes,
  up to its last whole record;
- makes each changed run a Run with ``lrdoctor.read.build.build_run``, the builder
  ``analyze`` uses, runs the rules on it and returns the findings not reported before.

A URL (``s3://bucket/sweep``) is followed the same way through ``lrdoctor.read.remote``: one
listing per pass stands for the walk and the stats (a run whose objects kept their size and
the store's version is not read), and an event object replaced by a longer version is
fetched only from where the previous pass stopped, once the bytes before that point are
shown to be the same (``remote.read_object``). An object deleted, or a listing that fails,
is a note, never the end of the watch.

A finding's identity is its run, its code and the metric or signal it is about
(LRD007 and LRD010 name a metric, LRD009 a signal). It is reported once; again
only if its severity rises (LRD001 seen as a spike, then sustained: the error
is news). A finding whose evidence moves (the KL peak grows) is not news.

Nothing is written beside the runs: the state lives in memory (the disk cache, when
used, is in the user's cache directory).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from lrdoctor.errors import InputError
from lrdoctor.live.placeholders import ENVIRONMENT, placeholder_name
from lrdoctor.model import Finding, ReadNote, RunResult, Severity
from lrdoctor.read import ingest, remote
from lrdoctor.read.build import Logged, build_run
from lrdoctor.read.cache import prefix_crc, read_events
from lrdoctor.read.discover import FoundRun, discover
from lrdoctor.read.normalise import merge_files
from lrdoctor.read.tags import TagRule, wanted_pattern
from lrdoctor.rules import engine
from lrdoctor.rules.options import Options
from lrdoctor.words import display

if TYPE_CHECKING:
    from lrdoctor.read.events import EventData

Signature = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


@dataclass(frozen=True)
class Settings:
    """How to read and judge the runs: the rule options, ``--tag`` overrides and ``--arch``."""

    options: Options
    tag_overrides: Mapping[str, str] = field(default_factory=dict)
    arch: str | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class FileState:
    """One event file as far as it was read: its stat signature then, and its data."""

    signature: Signature
    data: EventData | None = None  # None for a progress.csv (read whole by ingest)
    crc: int | None = None  # CRC-32C of the bytes read so far: what "only appended to" is checked by


@dataclass(frozen=True)
class LiveRun:
    """A run being followed: its files as last read, and the rules' verdict on them."""

    found: FoundRun | remote.RemoteRun
    files: Mapping[Path, FileState] | Mapping[str, remote.ObjectState]  # by object key for a remote run
    result: RunResult | None = None
    changed_at: int = 0  # the pass that last read something new


@dataclass(frozen=True)
class Sighting:
    """A finding the first time it is reported (or its severity first rises)."""

    finding: Finding
    run_path: str
    seen_at: float  # wall-clock time (seconds since the epoch) of the pass that saw it
    pass_number: int
    read_to_step: int | None  # the run's last step when it was seen


@dataclass(frozen=True)
class WatchState:
    """Everything one pass hands to the next. ``fresh_notes`` are the read problems
    first met in the latest pass, ``changed`` the runs it re-judged."""

    passes: int = 0
    runs: Mapping[str, LiveRun] = field(default_factory=lambda: MappingProxyType({}))
    reported: Mapping[tuple, Severity] = field(default_factory=lambda: MappingProxyType({}))
    noted: frozenset[tuple] = frozenset()
    fresh_notes: tuple[ReadNote, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def results(self) -> list[RunResult]:
        return [live.result for live in self.runs.values() if live.result is not None]


def poll(
    state: WatchState, paths: Sequence[Path | str], settings: Settings, *, now: Callable[[], float] = time.time
) -> tuple[WatchState, list[Sighting]]:
    """One pass over every run under ``paths``; the new state and the findings new in it.

    A path that does not exist is an InputError on the first pass (a typo); later,
    a vanished path is a note and its runs keep their last state.
    """
    # --tag is checked (known metric, non-empty tag) exactly as analyze checks it
    overrides = ingest.checked_overrides(settings.tag_overrides)
    want = wanted_pattern(overrides)
    number = state.passes + 1
    runs = dict(state.runs)
    notes: list[ReadNote] = []
    changed: list[str] = []
    for path in paths:
        try:
            found_runs, problems = _discovered(path)
        except FileNotFoundError:
            if state.passes == 0:
                raise InputError(f"no such file or directory: {display(str(path))}") from None
            notes.append(ReadNote(display(str(path)), "no longer exists: its runs keep their last state"))
            continue
        except OSError as error:  # a store that did not answer in time, or refused: a local error is no such thing
            if not remote.is_remote(str(path)):
                raise
            if state.passes == 0:
                raise InputError(f"{display(str(path))}: cannot list: {display(str(error))}") from None
            notes.append(ReadNote(display(str(path)), f"cannot list now ({display(str(error))}): its runs keep their"
                                                      " last state"))
            continue
        notes.extend(problems)
        for found in found_runs:
            key = str(found.path)
            follow = follow_remote_run if isinstance(found, remote.RemoteRun) else follow_run
            live, run_notes = follow(runs.get(key), found, overrides, want, settings)
            notes.extend(run_notes)
            if live is not None and live is not runs.get(key):
                result = engine.analyze([live.result.run], settings.options)[0] if live.result else None
                runs[key] = replace(live, result=result, changed_at=number)
                changed.append(key)
                notes.extend(live.result.run.notes if live.result else ())
        if remote.is_remote(str(path)):
            notes.extend(_unlisted(runs, str(path), {str(found.path) for found in found_runs}))

    seen_at = now()
    reported = dict(state.reported)
    sightings: list[Sighting] = []
    for key in changed:
        result = runs[key].result
        if result is None:
            continue
        for finding in new_findings(result.findings, key, reported):
            sightings.append(Sighting(finding, key, seen_at, number, result.run.last_step))
    fresh = [note for note in notes if _note_key(note) not in state.noted]
    new_state = WatchState(
        passes=number,
        runs=MappingProxyType(runs),
        reported=MappingProxyType(reported),
        noted=state.noted | {_note_key(note) for note in fresh},
        fresh_notes=tuple(dict.fromkeys(fresh)),
        changed=tuple(changed),
    )
    return new_state, sightings


def new_findings(findings: Iterable[Finding], run_path: str, reported: dict[tuple, Severity]) -> list[Finding]:
    """The findings not reported yet, or whose severity rose; records them in ``reported``."""
    fresh = []
    for finding in findings:
        key = identity(finding, run_path)
        before = reported.get(key)
        if before is None or finding.severity.rank > before.rank:
            reported[key] = finding.severity
            fresh.append(finding)
    return fresh


def identity(finding: Finding, run_path: str) -> tuple:
    """What a finding is about, whatever its numbers: run, code, and the metric or signal it names."""
    evidence = finding.evidence or {}
    subject = evidence.get("metric") or evidence.get("signal")
    return (run_path, finding.code, finding.file, finding.line, str(subject) if subject is not None else None)


def follow_run(
    live: LiveRun | None, found: FoundRun, overrides: tuple[TagRule, ...], want: re.Pattern[str], settings: Settings
) -> tuple[LiveRun | None, list[ReadNote]]:
    """The run read up to date: ``live`` itself when none of its files changed, else a
    new LiveRun (with ``result`` still to be judged, holding the new Run). None when
    a run seen for the first time cannot be read at all."""
    files = found.files
    signatures, notes = {}, []
    for path in files:
        try:
            signatures[path] = _signature(path)
        except OSError as error:
            notes.append(ReadNote(display(str(path)), f"cannot read: {error.strerror or error}"))
    old_files = live.files if live is not None else {}
    if live is not None and live.found == found and all(
        path in old_files and old_files[path].signature == signature for path, signature in signatures.items()
    ) and set(old_files) == set(signatures):
        return live, notes
    if not found.event_files:
        run = ingest.load_run(found, overrides, settings.arch, use_cache=False)
        if isinstance(run, ReadNote):
            return live, [*notes, run]
        if found.source is not None:  # a W&B, Tune or MLflow record's cut tail: read whole by the next pass
            run = replace(run, notes=tuple(note for note in run.notes if not _live_tail(note)))
        states = {path: FileState(signature) for path, signature in signatures.items()}
        return LiveRun(found, MappingProxyType(states), RunResult(run)), notes

    states = {}
    for path, signature in signatures.items():
        try:
            states[path] = read_grown(old_files.get(path), path, signature, want, settings.use_cache)
        except OSError as error:
            notes.append(ReadNote(display(str(path)), f"cannot read: {error.strerror or error}"))
    if not states:
        return live, notes
    try:
        logged = read_so_far([states[p].data for p in found.event_files if p in states])
        run = build_run(found, logged, want, overrides, arch=settings.arch)
    except Exception as error:  # noqa: BLE001 -- one broken run must not end the watch: it is reported
        return live, [*notes, ReadNote(display(str(found.path)), f"unreadable run: {type(error).__name__}: {error}")]
    return LiveRun(found, MappingProxyType(states), RunResult(run)), notes


def _discovered(path: Path | str) -> tuple[list, list[ReadNote]]:
    """The runs under one argument now, and discovery's problems: one listing of a URL."""
    if remote.is_remote(str(path)):
        return remote.discover(str(path))
    discovery = discover(Path(path))
    return discovery.runs, discovery.problems


def follow_remote_run(
    live: LiveRun | None, found: remote.RemoteRun, overrides: tuple[TagRule, ...], want: re.Pattern[str],
    settings: Settings,
) -> tuple[LiveRun | None, list[ReadNote]]:
    """``follow_run`` for a run in object storage: ``live`` itself when the listing shows
    each of its objects at the size and version last read (nothing fetched), else the run
    read again with each event object brought up to date from the state held for it
    (``remote.read_object``: a grown object costs its new bytes). An object gone from the
    listing is a note; the run is read without it."""
    if live is not None and live.found == found:
        return live, []
    before = live.found if live is not None and isinstance(live.found, remote.RemoteRun) else None
    listed = {item.key for item in found.logs()}
    notes = [ReadNote(display(f"{found.url}/{item.key}"), "deleted since the last pass: the run is read without it")
             for item in (before.logs() if before else ()) if item.key not in listed]

    def build(staged: FoundRun, read_file: Callable[[Path], EventData], changed: list[ReadNote]):
        if not staged.event_files:  # a progress.csv: small, read whole
            return ingest.load_run(staged, overrides, settings.arch, use_cache=False)
        files, problems = [], []
        for path in staged.event_files:
            try:
                files.append(read_file(path))
            except OSError as error:  # deleted between the listing and the read
                problems.append(ReadNote(display(str(path)), f"cannot read: {error.strerror or error}"))
        if not files:
            return ReadNote(display(str(staged.path)), "unreadable run: " + "; ".join(n.message for n in problems))
        logged = read_so_far(files)
        return build_run(staged, replace(logged, notes=(*problems, *logged.notes)), want, overrides, arch=settings.arch)

    try:
        run, states = remote.read_staged(found, build, want, settings.use_cache, live.files if before else None)
    except Exception as error:  # noqa: BLE001 -- a store failing mid-pass must not end the watch: it is noted
        return live, [*notes, ReadNote(display(found.path), f"not read this pass: {type(error).__name__}: {error}")]
    if isinstance(run, ReadNote):
        return live, [*notes, run]
    return LiveRun(found, MappingProxyType(states), RunResult(run)), notes


def _unlisted(runs: Mapping[str, LiveRun], url: str, listed: set[str]) -> list[ReadNote]:
    """A note for each run followed under ``url`` that its listing no longer shows (every
    log object deleted): it keeps its last state, as a local run whose folder went away."""
    url = url.rstrip("/")
    return [ReadNote(display(key), "no longer in the listing (its objects were deleted): it keeps its last state")
            for key, live in runs.items()
            if isinstance(live.found, remote.RemoteRun) and live.found.url == url and key not in listed]


def read_grown(
    old: FileState | None, path: Path, signature: Signature, want: re.Pattern[str], use_cache: bool
) -> FileState:
    """An event file brought up to date: unchanged -> as it was; the same file grown ->
    only the records after the old ``end_offset`` are read; anything else -> read whole.

    ``signature`` is the stat taken before reading, so bytes appended during the
    read are picked up again (from the new ``end_offset``) by the next pass."""
    if old is not None and old.signature == signature:
        return old
    same_file = old is not None and old.data is not None and old.signature[:2] == signature[:2]
    grown = same_file and signature[2] >= old.signature[2] and signature[2] >= old.data.end_offset
    # Appended to, not rewritten in the middle: the bytes read before still have their CRC.
    if grown and old.crc is not None and prefix_crc(path, 0, old.data.end_offset) == old.crc:
        from lrdoctor.read.events import (  # loaded once a file is read
            appended,
            read_event_file,
        )

        data = appended(old.data, read_event_file(path, want, start=old.data.end_offset))
        return FileState(signature, data, prefix_crc(path, old.data.end_offset, data.end_offset, old.crc))
    data = read_events(path, want, use_cache)
    return FileState(signature, data, prefix_crc(path, 0, data.end_offset))


def read_so_far(files: Sequence[EventData]) -> Logged:
    """What a run's event files (their data, in write order) hold so far. The incomplete
    tail a live writer leaves is not a read problem here: the next pass reads it whole."""
    notes = tuple(
        ReadNote(display(note.path), note.message, note.offset)
        for data in files
        for note in data.notes
        if note.offset is None or note.offset < data.end_offset
    )
    return Logged(
        scalars=merge_files([data.scalars for data in files]),
        tags=set().union(*(data.scalar_tags for data in files)),
        texts={tag: text for data in files for tag, text in data.texts.items()},
        hparams={key: value for data in files for key, value in data.hparams.items()},
        notes=notes,
    )


# What the W&B, Tune and MLflow readers say of the tail a live writer has not finished.
_LIVE_TAILS = ("last record cut", "incomplete last line")


def _live_tail(note: ReadNote) -> bool:
    return note.offset is not None and note.message.startswith(_LIVE_TAILS)


def _signature(path: Path) -> Signature:
    info = os.stat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _note_key(note: ReadNote) -> tuple:
    return (note.path, note.message, note.offset)


# ---------------------------------------------------------------- --exec: a command per sighting


@dataclass(frozen=True)
class Command:
    """One ``--exec`` command for one sighting: its arguments, the ``LRDOCTOR_*`` variables
    added to the environment it runs in, and why it is not run (None: it is)."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    refused: str | None = None


def placeholder_values(sighting: Sighting) -> dict[str, str]:
    """What each placeholder stands for: the run's path exactly (a program opens it), the
    run's name and the message as lrdoctor prints them (escaped: a program that shows them
    shows no escape sequence a config or a directory name brought)."""
    finding = sighting.finding
    return {
        "run": display(finding.run or ""),
        "path": sighting.run_path,
        "code": finding.code,
        "rule": finding.rule,
        "severity": finding.severity.value,
        "step": "" if finding.step is None else str(finding.step),
        "message": display(finding.message),
    }


def command_for(argv: Sequence[str], sighting: Sighting) -> Command:
    """The ``--exec`` arguments with each placeholder argument (``{run}``, a whole argument:
    ``parse_command`` refuses any other) replaced by its value, and every value in the
    environment too (``LRDOCTOR_RUN``, ...), which is how a shell script reads one.

    No value is ever pasted into a longer argument, so none reaches a string that a
    program parses (``sh -c``'s script). A value that starts with ``-`` (a run named
    ``--version``) would read as an option: unless ``--`` comes before it, the command is
    not run for that sighting, and ``refused`` says why."""
    values = placeholder_values(sighting)
    env = {ENVIRONMENT[name]: value for name, value in values.items()}
    command, options_end = [], False
    for argument in argv:
        name = placeholder_name(argument)
        if name is None:
            command.append(argument)
            options_end = options_end or argument == "--"
            continue
        value = values[name]
        if value.startswith("-") and not options_end:
            refused = (
                f"not run for {display(values['run'] or values['path'])}: {{{name}}} is '{display(value)}', which "
                f"{display(argv[0])} would read as an option; put -- before the placeholders, or read "
                f"${ENVIRONMENT[name]}"
            )
            return Command(tuple(argv), env, refused)
        command.append(value)
    return Command(tuple(command), env)


def run_command(command: Command, timeout: float) -> str | None:
    """Run one ``--exec`` command (stdin closed, output passed through, the ``LRDOCTOR_*``
    variables added to lrdoctor's environment); what went wrong, or None."""
    program = display(command.argv[0])
    if command.refused is not None:
        return f"--exec {program}: {command.refused}"
    try:
        completed = subprocess.run(
            list(command.argv), stdin=subprocess.DEVNULL, timeout=timeout, check=False,
            env={**os.environ, **command.env},
        )
    except subprocess.TimeoutExpired:
        return f"--exec {program}: killed after {timeout:g}s"
    except OSError as error:
        return f"--exec {program}: {error.strerror or error}"
    if completed.returncode != 0:
        return f"--exec {program}: exit code {completed.returncode}"
    return None


def exits(sighting: Sighting, level: str | None, run: RunResult | None, *, static_too: bool = False) -> bool:
    """Whether a sighting ends the watch under ``--exit-on level``: by the same policy as the
    SB3 callback and the Monitor (``monitor.StopPolicy``): a finding about the run's settings
    (LRD002, ...) only with ``--exit-on-static``; one about the dynamics (the collapse forecast
    LRD015 is a warning) only once the run has logged more than the grace period's updates."""
    from lrdoctor.live.monitor import StopPolicy  # the monitor builds on this module

    if level is None:
        return False
    return StopPolicy(stop_on=level, stop_on_static=static_too).stops(sighting.finding, updates_of(run))


def updates_of(result: RunResult | None) -> int:
    """How many updates a run has logged: the points of its most-logged training metric."""
    if result is None:
        return 0
    metrics = result.run.metrics
    counts = [len(metrics.points(name)[0]) for name in ("kl", "lr", "entropy", "value_loss", "policy_loss")
              if name in metrics]
    return max(counts, default=0)
