"""The ingestion stage: discover runs, read their files, and make each a Run (``read.build``).

``load_runs(path)`` is the public entry point: a list of ``Run`` records. ``load``
returns the same runs together with what could not be read, so one bad run in a
sweep is listed, not fatal. An unchanged run comes from the run cache (``read.cache``)
instead of its files.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from lrdoctor.errors import InputError, UnreadableFile
from lrdoctor.model import CANONICAL_METRICS, Points, ReadNote, Run, RunResult
from lrdoctor.read import remote, tbparse_reader
from lrdoctor.read.build import Logged, build_run, described_run
from lrdoctor.read.cache import (
    DamagedEntry,
    cached_run,
    entry_key,
    identity,
    max_bytes,
    prune,
    read_events,
    store_run,
)
from lrdoctor.read.discover import FoundRun, Source, discover
from lrdoctor.read.mlflow import read_file_store_run, read_sqlite_run
from lrdoctor.read.normalise import merge_files, merge_notes
from lrdoctor.read.rllib_result import read_result_json
from lrdoctor.read.tags import TagRule, override_rules, wanted_pattern
from lrdoctor.read.wandb import read_wandb_file, wandb_scalars
from lrdoctor.words import display

if TYPE_CHECKING:
    from lrdoctor.read.events import EventData

PathArg = Path | str | os.PathLike
Judge = Callable[[Run, "str | None"], RunResult]
# How tasks are run elsewhere (``read.cluster``): given the task function and the tasks, it
# yields (task index, result) as each finishes, in any order; the result is the exception
# of a task that failed for good (its worker lost twice, say).
Executor = Callable[[Callable, list], Iterator[tuple[int, "Run | RunResult | ReadNote | BaseException"]]]
LOOKED_FOR = "events.out.tfevents.*, progress.csv, result.json, W&B and MLflow runs"
# More reader processes than this only contend for the cores and the memory: a --jobs of
# thousands on a sweep of thousands must not start thousands of processes.
MAX_WORKERS = 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class Ingested:
    """Every run that was read, and every path that could not be (with why)."""

    runs: list[Run]
    problems: list[ReadNote]
    # Per run, what its metrics were read from (see ``run_key``); None when not cached.
    keys: tuple[str | None, ...] = ()
    # Per run, what ``load(judge=...)`` made of it where it was read; empty without a judge.
    results: tuple[RunResult, ...] = ()
    # Per run, the log files it was read from (event files in write order, then progress.csv).
    log_files: tuple[tuple[str, ...], ...] = ()


def load_runs(
    paths: PathArg | Sequence[PathArg],
    *,
    tag_overrides: Mapping[str, str] | None = None,
    arch: str | None = None,
    jobs: int = 1,
    use_cache: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Run]:
    """Every run under ``paths``, read and normalised. Raises InputError when a path is
    missing or no run at all could be read under the paths."""
    ingested = load(
        paths, tag_overrides=tag_overrides, arch=arch, jobs=jobs, use_cache=use_cache, on_progress=on_progress
    )
    if not ingested.runs:
        detail = f" ({ingested.problems[0].path}: {ingested.problems[0].message})" if ingested.problems else ""
        raise InputError(nothing_read(paths) + detail)
    return ingested.runs


def nothing_read(paths: PathArg | Sequence[PathArg]) -> str:
    """What is said when no run at all could be read under ``paths``."""
    where = ", ".join(display(str(p)) for p in _as_list(paths))
    return f"no readable run under {where} (looked for {LOOKED_FOR})"


def load(
    paths: PathArg | Sequence[PathArg],
    *,
    tag_overrides: Mapping[str, str] | None = None,
    arch: str | None = None,
    jobs: int = 1,
    use_cache: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    judge: Judge | None = None,
    reader: str = "lrdoctor",
) -> Ingested:
    """Like ``load_runs`` but never raises for unreadable runs: they are returned as problems.
    A missing path is still an InputError (a usage mistake, not a bad run). Paths may be
    URLs (``s3://...``, ``read.remote``); ``executor`` runs the reads elsewhere (a cluster).

    ``judge(run, key)`` (a picklable function, e.g. a partial of ``rules.engine.judged``), when
    given, is called on each run where it was read, in its worker process, and what it returns
    comes back instead of the run: the rules run in parallel with the reading, and a result can
    be smaller than the run it judged (``Ingested.results``)."""
    overrides = checked_overrides(tag_overrides)
    found: list[FoundRun | remote.RemoteRun] = []
    problems: list[ReadNote] = []
    for path in _as_list(paths):
        try:
            if remote.is_remote(path):
                runs, noted = remote.discover(str(path))
            else:
                discovery = discover(Path(path))
                runs, noted = discovery.runs, discovery.problems
        except FileNotFoundError:
            raise InputError(f"no such file or directory: {display(str(path))}") from None
        found.extend(runs)
        problems.extend(noted)
    found = _once_each(found)

    cache_limit = max_bytes() if use_cache else None  # a bad LRDOCTOR_CACHE_MAX_MB is said before reading
    started = time.time_ns()  # what is used from here on is this analysis's, and never pruned
    # Unchanged runs come whole from the cache, here: workers are started only for the rest.
    keys = [run_key(run, overrides) if use_cache else None for run in found]
    outcomes: list[Run | RunResult | ReadNote | None] = [
        _from_cache(run, key, arch, judge) if key is not None else None for run, key in zip(found, keys)
    ]
    missing = [index for index, outcome in enumerate(outcomes) if outcome is None]
    tasks = [(found[index], overrides, arch, use_cache, keys[index], judge, reader) for index in missing]
    for index, outcome in zip(missing, _map(tasks, jobs, on_progress, executor)):
        outcomes[index] = outcome
    if cache_limit is not None and tasks:  # entries were written: keep the cache within its bound
        prune(cache_limit, in_use_since=started)
    runs: list[Run] = []
    run_keys: list[str | None] = []
    results: list[RunResult] = []
    log_files: list[tuple[str, ...]] = []
    for outcome, key, run in zip(outcomes, keys, found):
        if isinstance(outcome, RunResult):
            results.append(outcome)
            outcome = outcome.run
        if isinstance(outcome, Run):
            runs.append(outcome)
            run_keys.append(key)
            log_files.append(log_files_of(run))
        else:
            problems.append(outcome)
    return Ingested(
        runs=runs, problems=problems, keys=tuple(run_keys), results=tuple(results), log_files=tuple(log_files)
    )


def log_files_of(run: FoundRun | remote.RemoteRun) -> tuple[str, ...]:
    """The files a run was read from, as reports name them: paths, or URLs in object storage."""
    files = (*run.event_files, *((run.progress_csv,) if run.progress_csv else ()))
    if isinstance(run, remote.RemoteRun):
        return tuple(f"{run.url}/{item.key}" for item in files)
    return tuple(str(item) for item in files)


def _once_each(found: list[FoundRun | remote.RemoteRun]) -> list[FoundRun | remote.RemoteRun]:
    """Each run once, however many of the arguments reach it (``analyze sweep sweep/run1``,
    or two links to one directory): a run counted twice would skew the sweep's summary."""
    seen: set[tuple] = set()
    unique = []
    for run in found:
        if isinstance(run, remote.RemoteRun):
            key = remote.listed_files(run)
        else:
            key = (*map(_file_identity, run.files), run.source.run_id if run.source else "")
        if key not in seen:
            seen.add(key)
            unique.append(run)
    return unique


def _file_identity(path: Path) -> tuple[int, int] | str:
    """The file a path reaches, however it is named: its device and inode (one system call,
    where ``os.path.realpath`` makes one per part of the path), else its real path."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return info.st_dev, info.st_ino


def _as_list(paths: PathArg | Sequence[PathArg]) -> list[PathArg]:
    return [paths] if isinstance(paths, (str, bytes, os.PathLike)) else list(paths)


def checked_overrides(tag_overrides: Mapping[str, str] | None) -> tuple[TagRule, ...]:
    """``--tag metric=tag`` as tag rules; an unknown metric or an empty tag is an InputError."""
    for metric, tag in (tag_overrides or {}).items():
        if metric not in CANONICAL_METRICS:
            raise InputError(f"--tag {metric}={tag}: unknown metric {metric!r} (one of {', '.join(CANONICAL_METRICS)})")
        if not tag or tag == "-":
            raise InputError(f"--tag {metric}=: empty tag name")
    return override_rules(tag_overrides)


def _map(
    tasks: list, jobs: int, on_progress: Callable[[int, int], None] | None, executor: Executor | None = None
) -> list[Run | RunResult | ReadNote]:
    """Read every run, by ``executor`` when given, else in parallel processes when ``jobs``
    > 1; results keep discovery order, and progress is told as each finishes."""
    total = len(tasks)
    results: list[Run | RunResult | ReadNote | None] = [None] * total
    if executor is not None and tasks:
        for done, (index, result) in enumerate(executor(load_run, tasks), start=1):
            if isinstance(result, BaseException):
                why = f"unreadable run: its task failed twice: {type(result).__name__}: {result}"
                result = ReadNote(display(str(tasks[index][0].path)), why)
            results[index] = result
            if on_progress:
                on_progress(done, total)
    elif jobs > 1 and total > 1:
        # imported here: a sweep that comes whole from the cache starts no workers
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(  # each worker reads run after run: it keeps what one run freed
            max_workers=min(jobs, total, MAX_WORKERS), initializer=keep_freed_memory
        ) as pool:
            futures = {pool.submit(load_run, *task): index for index, task in enumerate(tasks)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if on_progress:
                    on_progress(done, total)
    else:
        if tasks:  # a sweep that comes whole from the cache reads nothing
            keep_freed_memory()
        for index, task in enumerate(tasks):
            results[index] = load_run(*task)
            if on_progress:
                on_progress(index + 1, total)
    return results  # type: ignore[return-value]


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_FREE_BYTES = 64 << 20


@functools.cache
def keep_freed_memory() -> None:
    """Let this process's allocator keep up to 64 MB it freed, instead of handing it back.
    Each run read allocates its file's bytes and arrays of the same size again; with glibc's
    defaults those come from fresh pages (a page fault per 4 KB, a quarter of the reader's
    time) and go back to the system after each run. Measured on the 10M-event sweep: 10% less
    time, 10 MB more memory for the tree. Elsewhere than glibc, nothing changes."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # not glibc (macOS, Windows): its own allocator's policy
        return
    mallopt(_M_MMAP_THRESHOLD, _KEPT_FREE_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE_BYTES)


def load_run(
    found: FoundRun | remote.RemoteRun,
    overrides: tuple[TagRule, ...] = (),
    arch: str | None = None,
    use_cache: bool = True,
    key: str | None = None,
    judge: Judge | None = None,
    reader: str = "lrdoctor",
    read_file: Callable[[Path], EventData] | None = None,
) -> Run | RunResult | ReadNote:
    """Read, normalise and describe one run; a run that cannot be read at all is a ReadNote.
    With ``key`` (from ``run_key``), the normalised metrics are stored under it; with ``judge``,
    what it makes of the run is returned instead (see ``load``). ``read_file``, when given,
    is what each event file holds (``read.remote`` decodes objects itself)."""
    try:
        if isinstance(found, remote.RemoteRun):  # its objects staged where this task runs
            run = remote.load_run(found, load_run, overrides, arch, key, use_cache)
        else:
            run = _load_run(found, overrides, arch, use_cache, key, reader, read_file)
    except UnreadableFile as error:
        return ReadNote(display(str(found.path)), f"unreadable run: {error}")
    except Exception as error:  # one broken run must not end a sweep: it is reported instead
        return ReadNote(display(str(found.path)), f"unreadable run: {type(error).__name__}: {error}")
    return judge(run, key) if judge is not None and isinstance(run, Run) else run


def _load_run(
    found: FoundRun,
    overrides: tuple[TagRule, ...],
    arch: str | None,
    use_cache: bool,
    key: str | None,
    reader: str = "lrdoctor",
    read_file: Callable[[Path], EventData] | None = None,
) -> Run | ReadNote:
    want = wanted_pattern(overrides)
    if found.event_files:
        logged, opened = _read_event_files(found.event_files, want, use_cache, reader, read_file)
        if not opened:
            reasons = "; ".join(f"{Path(n.path).name}: {n.message}" for n in logged.notes)
            return ReadNote(display(str(found.path)), f"unreadable run: {reasons}")
    elif found.source is not None:
        logged = read_source(found.source, want)
    else:
        from lrdoctor.read import (
            progress_csv,  # pandas, only for runs that have no event files
        )

        scalars, all_tags, notes, library = progress_csv.read_progress_csv(found.progress_csv, want)
        logged = Logged(scalars, all_tags, notes=tuple(notes), library=library)
    # The run entry refers to its event files' entries for the points it shares with them.
    shared = [(path, want) for path in found.event_files] if use_cache and reader == "lrdoctor" else []
    keep = functools.partial(store_run, key, event_files=shared) if key is not None else None
    return build_run(found, logged, want, overrides, arch=arch, keep=keep)


def read_source(source: Source, want) -> Logged:
    """A run recorded by W&B, Tune or MLflow, as the same Logged an event file gives: its
    scalars (merged as a run's files are: in step order, a repeated step keeping the value
    written last, a later file winning from its first step, all said), every key, its config
    (W&B's config, Tune's result config, MLflow's params, in ``hparams``, which feeds the
    metadata as the hparams plugin's values do)."""
    library = None
    if source.kind == "wandb":  # one file, or one per directory of a resumed run, in write order
        per_file, keys, config, notes = [], set(), {}, []
        for path in source.files:
            data = read_wandb_file(path, want)
            scalars, file_keys, step_key, file_notes = wandb_scalars(data, want, display(str(path)))
            if step_key is None and data.rows:
                file_notes.append(ReadNote(display(str(path)), "history rows without any step key: not placed"))
            per_file.append(scalars)
            keys |= file_keys
            config.update(data.config)
            notes += [*data.notes, *file_notes]
    elif source.kind == "tune":
        scalars, keys, notes, config = read_result_json(source.path, want)
        per_file, library = [scalars], "rllib"
    else:
        run = (read_sqlite_run(source.path, source.run_id, want) if source.kind == "mlflow-sqlite"
               else read_file_store_run(source.path, want))
        per_file, keys, notes, config = [run.scalars], run.keys, run.notes, run.params
    names = [display(str(path)) for path in source.files] if source.kind == "wandb" else [display(str(source.path))]
    notes = [*notes, *merge_notes(per_file, names)]
    return Logged(merge_files(per_file), keys, hparams=config, notes=tuple(notes), library=library)


def run_key(found: FoundRun | remote.RemoteRun, overrides: tuple[TagRule, ...]) -> str | None:
    """What a run's metrics are a function of: its files as they are now (path, and each
    file's ``identity``: device, inode, size, mtime and ctime) and the tag mapping; None
    when a file cannot be looked at (the run is then read as usual)."""
    if isinstance(found, remote.RemoteRun):  # the store's identity of each object, not a local mtime
        parts = remote.cache_parts(found)
        return None if parts is None else entry_key("remote run", *parts, _override_parts(overrides))
    files = list(found.files)
    try:
        stats = [os.stat(path) for path in files]
    except OSError:
        return None
    return entry_key(
        "run",
        str(found.path),
        str(found.root),
        [[os.fsdecode(path), *identity(stat)] for path, stat in zip(files, stats)],
        _override_parts(overrides),
        [found.source.kind, found.source.run_id] if found.source else None,
    )


def _override_parts(overrides: tuple[TagRule, ...]) -> list:
    return [[rule.metric, rule.pattern, rule.negated, rule.estimator] for rule in overrides]


def _from_cache(
    found: FoundRun | remote.RemoteRun, key: str, arch: str | None, judge: Judge | None
) -> Run | RunResult | None:
    """The run from its cache entry, with fresh metadata, judged when ``judge`` is given; None
    when there is no valid entry. The entry's points are checked as they are used (a report of
    cached findings uses only the KL's), and whatever the run or result keeps of them is checked
    here: a damaged array is found now, and the run is read again, never later, where it is used."""
    stored = cached_run(key)
    if stored is None:
        return None
    try:
        if isinstance(found, remote.RemoteRun):
            run = remote.described(found, stored, described_run, arch=arch)
        else:
            run = described_run(found, stored, arch=arch)
        outcome = run if judge is None else judge(run, key)
        kept = outcome.run if isinstance(outcome, RunResult) else outcome
        kept.metrics.load_deferred()
    except DamagedEntry:
        return None
    return outcome


def _read_event_files(
    files: Sequence[Path], want, use_cache: bool, reader: str = "lrdoctor",
    read_file: Callable[[Path], EventData] | None = None,
) -> tuple[Logged, int]:
    """Every file of a run, merged in write order, and how many could be opened;
    a file that cannot be opened is a note, and so is what merging did (``merge_notes``).
    ``reader`` "tbparse" reads each file with the reference reader (``read.tbparse_reader``);
    ``read_file`` gives a file's data already read (an object in a bucket, ``read.remote``)."""
    per_file: list[dict[str, Points]] = []
    read: list[str] = []  # the files per_file came from, as shown
    all_tags: set[str] = set()
    texts: dict[str, str] = {}
    hparams: dict[str, object] = {}
    notes: list[ReadNote] = []
    opened = 0
    for path in files:
        try:
            if read_file is not None:
                data = read_file(path)
            elif reader == "tbparse":
                data = tbparse_reader.read_event_file(path, want)
            else:
                data = read_events(path, want, use_cache)
        except OSError as error:
            notes.append(ReadNote(display(str(path)), f"cannot read: {error.strerror or error}"))
            continue
        opened += 1
        if data.end_offset == 0 and not data.notes and not data.scalar_tags:
            notes.append(ReadNote(display(str(path)), "empty event file: nothing written yet", 0))
        per_file.append(data.scalars)
        read.append(display(str(path)))
        all_tags.update(data.scalar_tags)
        texts.update(data.texts)
        hparams.update(data.hparams)
        notes.extend(ReadNote(display(note.path), note.message, note.offset) for note in data.notes)
    notes.extend(merge_notes(per_file, read))
    return Logged(merge_files(per_file), all_tags, texts, hparams, tuple(notes)), opened
