"""Runs in object storage (``s3://``, ``gs://``, ``az://``, any fsspec URL), read as local ones are.

Discovery is one recursive listing of the prefix: a run is a "directory" (a key prefix)
holding ``events.out.tfevents.*`` objects or a ``progress.csv``, named relative to the
argument exactly as a local run is (``analyze s3://bucket/sweep`` names ``run1``, like
``analyze sweep/``). Reading a run fetches only its log objects and the config objects
beside and above it into a private staging folder, where the one event reader, the one
progress.csv reader and the one metadata reader read them: the same CRC checks, the same
notes, the same report. Objects are fetched by ranged requests of at most ``_RANGE``
bytes (memory stays bounded on any size), a progress.csv or config only up to the size
its reader would read. Staging is deleted when the run has been read; what is kept is
the run cache's entry, keyed on each object's identity as the store gives it (ETag,
GCS generation, Azure etag, with the size), never on a local mtime, and per event
object what its records decoded to (``ObjectState``), keyed on its URL.

A live run synced to a bucket is a new object each time it grows (a store replaces, never
appends). An event object longer than its kept state is fetched only from ``OVERLAP``
bytes before the old end: when those bytes still have the CRC kept, only the records after
the old end are decoded and appended, as for a grown local file; else, and for an object
that shrank or was rewritten at its size, it is read whole. ``watch`` holds the same
states in memory from pass to pass (``lrdoctor.live.watch``).

Where the bytes come from is the backend's business: credentials come from its usual
chain (AWS environment, profile or instance role; ``gcloud`` application defaults; Azure's
``DefaultAzureCredential`` environment), and the endpoint from its own settings
(``AWS_ENDPOINT_URL``, ``FSSPEC_S3_ENDPOINT_URL``). lrdoctor never takes, prints, caches or
ships a secret: a task sent to a cluster carries URLs only, and each worker asks its own chain.

Object keys are strangers' names: a key that is not a plain relative path (``..``, an
empty or absolute component, a NUL) is never staged, only noted; every name shown goes
through ``words.display``. A listing is a snapshot: an object deleted after it is
"cannot read" for its run alone, and one replaced after it is read as it is now, said in
a note, and not cached under the listing's identity.

fsspec and its backends are imported only here, and only when a remote path is given.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lrdoctor.configs.loaders import MAX_BYTES as MAX_CONFIG_BYTES
from lrdoctor.errors import InputError
from lrdoctor.model import ReadNote, Run
from lrdoctor.read.build import NormalisedRun
from lrdoctor.read.cache import (
    FORMAT,
    REMOTE_EVENTS_KIND,
    load_event_entry,
    packed_event_data,
    prefix_crc,
    source_key,
    store_entry,
)
from lrdoctor.read.discover import (
    _TIME_NAME,
    EVENTS_PREFIX,
    PROGRESS_CSV,
    FoundRun,
    _fold_hparams_subdirectories,
    run_name,
    write_order,
)
from lrdoctor.read.metadata import CONFIG_NAMES
from lrdoctor.read.tags import wanted_pattern
from lrdoctor.version import VERSION
from lrdoctor.words import display

if TYPE_CHECKING:
    from lrdoctor.read.events import EventData

# A scheme, as fsspec reads one (``s3://``, ``gs://``, ``az://``, ``abfs://``, ``memory://``).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_RANGE = 32 << 20  # bytes of one ranged request: what one read holds in memory
# What says which version of an object this is, by backend: GCS's generation, S3's ETag
# (s3fs), Azure's and GCS's etag (adlfs, gcsfs), a version id where versioning is on.
_IDENTITY_FIELDS = ("generation", "ETag", "etag", "VersionId", "version_id")
# Objects of this size or less in an add_hparams-like subdirectory are fetched at discovery,
# so the local rule that folds them into their parent run can look at them.
_HPARAMS_PROBE_BYTES = 1 << 20


def is_remote(path: object) -> bool:
    """Whether a path argument is a URL (``s3://...``): fsspec reads it, not the file system.
    A local file whose name starts like one is given as ``./s3:/...``."""
    return isinstance(path, str) and bool(_SCHEME.match(path))


@dataclass(frozen=True)
class RemoteObject:
    key: str  # relative to the argument, '/'-separated, checked by ``_safe_key``
    size: int
    version: str | None  # the store's identity of this version (ETag, generation); None: unknown


@dataclass(frozen=True)
class RemoteRun:
    """A run in object storage: plain strings and numbers only, so a task that carries
    it to a cluster worker carries no file system object and no credential."""

    url: str  # the argument, without a trailing slash
    base: str  # its last component: the name of the argument's folder when it is the run
    directory: str  # the run's prefix relative to the argument ("" when it is the argument)
    name: str
    event_files: tuple[RemoteObject, ...]
    progress_csv: RemoteObject | None
    configs: tuple[RemoteObject, ...]  # config objects beside and above the run

    @property
    def path(self) -> str:
        """The run's URL: what reports show as its path."""
        return f"{self.url}/{self.directory}" if self.directory else self.url

    def logs(self) -> tuple[RemoteObject, ...]:
        return (*self.event_files, *((self.progress_csv,) if self.progress_csv else ()))


def discover(url: str) -> tuple[list[RemoteRun], list[ReadNote]]:
    """Every run at or below ``url`` (a prefix, or one event file or progress.csv).
    Raises FileNotFoundError when nothing exists there."""
    fs, root = _filesystem(url)
    url, root = url.rstrip("/"), root.rstrip("/")
    fs.invalidate_cache()  # a listing of now, not one a long-lived client remembers
    listing = {path: info for path, info in fs.find(root, detail=True).items() if path != root}
    single = None
    if not listing:  # one object, or nothing: ``info`` raises FileNotFoundError then
        if _retried(fs.info, root).get("type") != "file":
            return [], []
        (root, single), url = root.rsplit("/", 1), url.rsplit("/", 1)[0]
        listing = {info["name"]: info for info in fs.ls(root, detail=True)}
    objects, problems = {}, []
    for path, info in sorted(listing.items()):
        if info.get("type", "file") != "file":
            continue
        key = path[len(root) + 1:] if path.startswith(root + "/") else None
        if key is None or not _safe_key(key):
            shown = display(f"{url}/{path[len(root) + 1:]}")
            problems.append(ReadNote(shown, "object key is not a plain path: skipped"))
            continue
        objects[key] = RemoteObject(key, int(info.get("size") or 0), _version(info))
    if single is not None:
        objects = {k: o for k, o in objects.items() if k == single or _is_config(k)}
    return _runs(url, objects, fs, root), problems


# A request that gets no connection in CONNECT_TIMEOUT seconds, or no bytes for READ_TIMEOUT, fails (and
# is tried once more, ``_retried``): a store that stops answering must not hang an analysis or a
# watch. Each backend's own options, by scheme; gcsfs has one limit for a whole request (a range of
# ``_RANGE`` bytes is under a second on any link a sweep is read over).
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 60
_S3 = {"config_kwargs": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT}}
_GCS = {"requests_timeout": 2 * READ_TIMEOUT}
_AZURE = {"connection_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT}
_TIMEOUTS = {"s3": _S3, "s3a": _S3, "gs": _GCS, "gcs": _GCS, "az": _AZURE, "abfs": _AZURE, "abfss": _AZURE}


# The extra that installs each scheme's backend (pyproject.toml); ``remote`` installs them all.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


def _filesystem(url: str):
    """The backend's file system for ``url`` and the path in it; an InputError that names the
    extra to install when fsspec or the scheme's backend is missing."""
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec  # here: only a remote path loads fsspec and its backend

        return fsspec.core.url_to_fs(url, **_TIMEOUTS.get(scheme, {}))
    except ImportError as error:
        extra = _EXTRAS.get(scheme, "remote")
        missing = error.name or error
        raise InputError(f"{display(url)}: reading {display(scheme)}:// needs its fsspec backend ({missing}):"
                         f" pip install 'lrdoctor[{extra}]'") from None


def _safe_key(key: str) -> bool:
    parts = key.split("/")
    return "\0" not in key and all(part not in ("", ".", "..") for part in parts)


def _version(info: dict) -> str | None:
    for name in _IDENTITY_FIELDS:
        value = info.get(name)
        if value not in (None, ""):
            return f"{name}={value}"
    return None


def _is_config(key: str) -> bool:
    return any(key == name or key.endswith("/" + name) for name in CONFIG_NAMES)


def _runs(url: str, objects: dict[str, RemoteObject], fs, root: str) -> list[RemoteRun]:
    """The runs the objects make, by the local rules: the folders that hold logs, with
    add_hparams subdirectories folded into their parent run (``discover``)."""
    folders: dict[str, list[str]] = {}
    for key in objects:
        folder, _, name = key.rpartition("/")
        folders.setdefault(folder, []).append(name)
    base = url.rsplit("/", 1)[-1]
    base = base if _safe_key(base) else "root"  # a folder of the staging area, never above it
    with tempfile.TemporaryDirectory(prefix="lrdoctor-listing-") as skeleton:
        top = Path(skeleton) / base
        local: list[FoundRun] = []
        for folder, names in folders.items():
            events = write_order([n for n in names if n.startswith(EVENTS_PREFIX)])
            if not events and PROGRESS_CSV not in names:
                continue
            directory = top / folder if folder else top
            local.append(FoundRun(directory, top, run_name(directory, top), tuple(directory / n for n in events),
                                  None if events else directory / PROGRESS_CSV))
        _probe_hparams(local, top, objects, fs, root)
        folded = _fold_hparams_subdirectories(local)
        runs = []
        for found in sorted(folded, key=lambda run: run.name):
            directory = found.path.relative_to(top).as_posix()
            directory = "" if directory == "." else directory
            runs.append(RemoteRun(
                url=url, base=base, directory=directory, name=found.name,
                event_files=tuple(objects[p.relative_to(top).as_posix()] for p in found.event_files),
                progress_csv=objects[found.progress_csv.relative_to(top).as_posix()] if found.progress_csv else None,
                configs=_configs_of(directory, objects),
            ))
    return runs


def _probe_hparams(runs: Sequence[FoundRun], top: Path, objects: dict[str, RemoteObject], fs, root: str) -> None:
    """Fetch the small event files of time-named subdirectories of runs with event files,
    so the local fold can judge whether they are add_hparams leftovers; nothing else is
    fetched, and one that cannot be is simply not folded."""
    with_events = {found.path for found in runs if found.event_files}
    for found in runs:
        keys = [p.relative_to(top).as_posix() for p in found.event_files]
        if not (_TIME_NAME.fullmatch(found.path.name) and found.path.parent in with_events):
            continue
        if keys and all(objects[key].size <= _HPARAMS_PROBE_BYTES for key in keys):
            for key in keys:
                try:
                    _fetch(fs, f"{root}/{key}", top / key)
                except OSError:
                    pass


def _configs_of(directory: str, objects: dict[str, RemoteObject]) -> tuple[RemoteObject, ...]:
    """Config objects in the run's folder and every folder above it up to the argument."""
    folders = [directory]
    while folders[-1]:
        folders.append(folders[-1].rpartition("/")[0])
    keys = [f"{folder}/{name}" if folder else name for folder in folders for name in CONFIG_NAMES]
    return tuple(objects[key] for key in keys if key in objects)


# --------------------------------------------------------------- reading one run, where the task runs


def load_run(run: RemoteRun, read: Callable[..., Run | ReadNote], overrides, arch, key,
             use_cache: bool = True) -> Run | ReadNote:
    """``read`` (ingest's run reader) on the run's objects, staged; paths shown as URLs.
    The staging folder is this call's own and is deleted after, whatever happened. Event
    objects are decoded here (``read_object``: a grown one only from where its cache entry
    ends); the run cache is used under ``key``, unless an object changed since the listing
    that ``key`` was made from."""
    def build(found: FoundRun, read_file: Callable, notes: list[ReadNote]) -> Run | ReadNote:
        return read(found, overrides, arch, False, None if notes else key, read_file=read_file)

    return read_staged(run, build, wanted_pattern(overrides), use_cache)[0]


def read_staged(
    run: RemoteRun,
    build: Callable[[FoundRun, Callable[[Path], EventData], list[ReadNote]], Run | ReadNote],
    want: re.Pattern[str],
    use_cache: bool,
    known: Mapping[str, ObjectState] | None = None,
) -> tuple[Run | ReadNote, dict[str, ObjectState]]:
    """``build(found, read_file, notes)`` on the run staged: its progress.csv and configs
    copied, its event objects decoded by ``read_object`` from ``known`` (what a watch holds
    in memory), else from the cache when ``use_cache``; ``read_file`` gives a staged event
    file's data (OSError for an object that is gone). Returns the run, paths shown as URLs,
    and the state of each event object read (by key), for the next pass of a watch."""
    with tempfile.TemporaryDirectory(prefix="lrdoctor-staging-") as staging:
        found, notes = stage(run, Path(staging), logs=True)
        fs, root = _filesystem(run.url)
        root = root.rstrip("/")
        states: dict[str, ObjectState] = {}
        for item in run.event_files:
            url = f"{run.url}/{item.key}"
            old = (known or {}).get(item.key)
            if old is None and use_cache:
                old = _cached_state(url, want)
            try:
                state = read_object(fs, f"{root}/{item.key}", found.root / item.key, want, old)
            except FileNotFoundError:
                continue  # gone since the listing: its reader says it cannot be read
            states[item.key] = state
            if (state.size, state.version) != (item.size, item.version):
                notes.append(_changed(run, item, state.size))
            if use_cache and state.version is not None and (old is None or _grew(old, state)):
                _store_state(url, want, state)
        by_path = {found.root / key: state.data for key, state in states.items()}

        def read_file(path: Path) -> EventData:
            if path not in by_path:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            return by_path[path]

        return _as_remote(build(found, read_file, notes), run, found.root, notes), states


def described(run: RemoteRun, stored: NormalisedRun, describe: Callable[..., Run], **options) -> Run:
    """A run from its cache entry: only its config objects are fetched, for fresh metadata."""
    with tempfile.TemporaryDirectory(prefix="lrdoctor-staging-") as staging:
        found, notes = stage(run, Path(staging), logs=False)
        return _as_remote(describe(found, stored, **options), run, found.root, notes)


def stage(run: RemoteRun, staging: Path, logs: bool) -> tuple[FoundRun, list[ReadNote]]:
    """The run's progress.csv (when ``logs``) and configs copied under ``staging`` as the
    run's folder tree, and the FoundRun that reads them there; event objects are not
    copied here (``read_staged`` reads them). An object that is gone is left out (its
    reader then says it cannot be read); one that changed since the listing is read as
    it is now, with a note (``CHANGED``)."""
    fs, root = _filesystem(run.url)
    root = root.rstrip("/")
    top = staging / run.base
    top.mkdir(parents=True)
    notes = []
    for item in (*((run.progress_csv,) if logs and run.progress_csv else ()), *run.configs):
        limit = _read_limit(item, run)
        try:
            now = _fetch(fs, f"{root}/{item.key}", top / item.key, limit)
        except FileNotFoundError:
            continue
        if now != (item.size, item.version) and item is run.progress_csv:
            notes.append(_changed(run, item, now[0]))
    directory = top / run.directory if run.directory else top
    found = FoundRun(
        path=directory, root=top, name=run.name,
        event_files=tuple(top / item.key for item in run.event_files),
        progress_csv=top / run.progress_csv.key if run.progress_csv else None,
    )
    return found, notes


CHANGED = "changed since it was listed"


def _changed(run: RemoteRun, item: RemoteObject, size_now: int) -> ReadNote:
    return ReadNote(display(f"{run.url}/{item.key}"),
                    f"{CHANGED} ({item.size:,} bytes then, {size_now:,} now): read as it is now")


def _read_limit(item: RemoteObject, run: RemoteRun) -> int | None:
    """Bytes worth fetching of an object: what its reader would read, plus one so that it
    still sees a file over its limit and says so; None (all) for an event file."""
    if item in run.configs:
        return MAX_CONFIG_BYTES + 1
    if item is run.progress_csv:
        from lrdoctor.read.progress_csv import MAX_CSV_BYTES  # pandas, only for a progress.csv run

        return MAX_CSV_BYTES + 1
    return None


def _fetch(fs, path: str, target: Path, limit: int | None = None) -> tuple[int, str | None]:
    """Copy object ``path`` to ``target`` by ranged requests (up to ``limit`` bytes) and
    return its (size, version); a version that differs before and after the copy is
    returned as None, so it matches no listing."""
    size, version = _identity(fs, path)
    _copy(fs, path, target, 0, size if limit is None else min(size, limit))
    return _checked(fs, path, size, version)


def _identity(fs, path: str) -> tuple[int, str | None]:
    """The object's size and version as the store says now, not as a listing saw them."""
    fs.invalidate_cache(path)
    info = _retried(fs.info, path)
    return int(info.get("size") or 0), _version(info)


def _checked(fs, path: str, size: int, version: str | None) -> tuple[int, str | None]:
    """(size, version) after a copy made of (size, version): version None if it changed meanwhile."""
    after = _identity(fs, path)
    return after[0], version if after == (size, version) else None


def _copy(fs, path: str, target: Path, start: int, end: int) -> int:
    """Bytes [start, end) of object ``path`` into ``target`` (whose byte 0 is the object's
    byte ``start``), by ranged requests of at most ``_RANGE`` bytes: memory stays bounded.
    A range that comes back short (the object shrank under the read) ends the copy: the
    reader then sees a truncated file. Returns the bytes copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "wb") as handle:
            offset = start
            while offset < end:
                block = _retried(fs.cat_file, path, start=offset, end=min(end, offset + _RANGE))
                if not block:
                    break
                handle.write(block)
                offset += len(block)
    except BaseException:
        target.unlink(missing_ok=True)  # never a half-copied object read as if it were whole
        raise
    return offset - start


# --------------------------------------------------------------- a grown object: only its new bytes

# Bytes before the old end fetched again with the new ones, whose CRC must be the one kept:
# an object in a store is replaced, never appended to, so a longer version is only read from
# the old end once it is shown to hold the same bytes there. 4 KiB is dozens of scalar
# records, each with its step, its wall time to the microsecond and its own CRC: another
# file that matches them at the same offset is not a case to design for.
OVERLAP = 4 << 10


@dataclass(frozen=True)
class ObjectState:
    """One event object as far as it was read: the store's identity of it then (``version``
    None: unknown, or it changed during the read), what its records decoded to, and the
    CRC-32C of its bytes [tail_start, data.end_offset), the last ``OVERLAP`` of what was read."""

    version: str | None
    size: int
    data: EventData
    tail_start: int
    tail_crc: int


def read_object(fs, path: str, target: Path, want: re.Pattern[str] | None, old: ObjectState | None) -> ObjectState:
    """Event object ``path`` decoded, by the one event reader and its CRC checks, through
    ``target`` (a staging file): the same version as ``old`` -> ``old``, nothing fetched; a
    longer version whose bytes before ``old``'s end still have their CRC -> only the bytes
    from ``old.tail_start`` on are fetched, the records after the old end decoded and
    appended, exactly as a grown local file is (``cache.read_events``); anything else
    (shorter, rewritten, unproven) -> fetched and read whole. Raises FileNotFoundError when
    the object is gone."""
    from lrdoctor.read.events import appended, read_event_file  # loaded once an event object is read

    size, version = _identity(fs, path)
    if old is not None and old.version is not None and (version, size) == (old.version, old.size):
        return replace(old, data=_named(old.data, target))
    data = None
    if old is not None and old.version is not None and size > old.size and size >= old.data.end_offset:
        start, end = old.tail_start, old.data.end_offset
        _copy(fs, path, target, start, size)
        if prefix_crc(target, 0, end - start) == old.tail_crc:
            data = appended(_named(old.data, target), _shifted(read_event_file(target, want, end - start), start))
    if data is None:
        start = 0
        _copy(fs, path, target, 0, size)
        data = read_event_file(target, want)
    tail_start = max(0, data.end_offset - OVERLAP)
    crc = prefix_crc(target, tail_start - start, data.end_offset - start)
    size, version = _checked(fs, path, size, version)
    return ObjectState(version if crc is not None else None, size, data, tail_start, crc or 0)


def _grew(old: ObjectState, new: ObjectState) -> bool:
    return (new.version, new.size, new.data.end_offset) != (old.version, old.size, old.data.end_offset)


def _shifted(data: EventData, start: int) -> EventData:
    """``data`` read from a file whose byte 0 is the object's byte ``start``, with its
    offsets (notes, ``end_offset``) as the object's."""
    data.notes = [ReadNote(n.path, n.message, None if n.offset is None else n.offset + start) for n in data.notes]
    data.end_offset += start
    return data


def _named(data: EventData, target: Path) -> EventData:
    """Notes of earlier reads name this read's staging file, as the new ones do."""
    return replace(data, notes=[ReadNote(str(target), n.message, n.offset) for n in data.notes])


def _source(url: str, want: re.Pattern[str] | None) -> str:
    """What a cached object state was made from: stored in its entry and compared."""
    selection = "*" if want is None else f"{want.flags}:{want.pattern}"
    return f"remote object\0{url}\0{selection}\0lrdoctor {VERSION}\0format {FORMAT}"


def _cached_state(url: str, want: re.Pattern[str] | None) -> ObjectState | None:
    """The state kept for object ``url``, whatever version it was of (``read_object`` decides
    what of it still holds); None when there is no entry exactly as written."""
    source = _source(url, want)
    entry = load_event_entry(REMOTE_EVENTS_KIND, source_key(source), source)
    if entry is None:
        return None
    meta, data = entry
    try:
        version, size = meta["identity"]
        return ObjectState(str(version), int(size), data, int(meta["tail"][0]), int(meta["tail"][1]))
    except (KeyError, TypeError, ValueError, AttributeError):  # an entry not as written: read the object again
        return None


def _store_state(url: str, want: re.Pattern[str] | None, state: ObjectState) -> None:
    source = _source(url, want)
    header, arrays = packed_event_data(state.data)
    header = {"source": source, "identity": [state.version, state.size],
              "tail": [state.tail_start, state.tail_crc], **header}
    store_entry(REMOTE_EVENTS_KIND, source_key(source), header, arrays)


def _retried(call, *args, **kwargs):
    """One retry of a request that failed for any reason but the object's absence or a
    refusal: a dropped connection is common; a second failure is the run's problem."""
    try:
        return call(*args, **kwargs)
    except (FileNotFoundError, PermissionError):
        raise
    except OSError:
        return call(*args, **kwargs)


def _as_remote(result: Run | ReadNote, run: RemoteRun, top: Path, notes: list[ReadNote]) -> Run | ReadNote:
    """The run as read from staging, with every path it shows as the object's URL."""
    local, remote = display(str(top)), display(run.url)

    def shown(text: str) -> str:
        return text.replace(local, remote)

    def moved(note: ReadNote) -> ReadNote:
        return ReadNote(shown(note.path), shown(note.message), note.offset)

    if isinstance(result, ReadNote):
        return moved(result)
    return replace(result, path=run.path, notes=(*notes, *map(moved, result.notes)))


def listed_files(run: RemoteRun) -> tuple[str, ...]:
    """What makes two arguments reach the same run: its log objects' URLs."""
    return tuple(f"{run.url}/{item.key}" for item in run.logs())


def cache_parts(run: RemoteRun) -> list | None:
    """What a remote run's metrics are a function of: each log object's key, size and the
    store's version of it; None when the store names no version (never cached then)."""
    if any(item.version is None for item in run.logs()):
        return None
    return [run.url, run.directory, [[item.key, item.size, item.version] for item in run.logs()]]
