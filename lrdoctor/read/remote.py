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
GCS generation, Azure etag, with the size), never on a local mtime.

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

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lrdoctor.configs.loaders import MAX_BYTES as MAX_CONFIG_BYTES
from lrdoctor.model import ReadNote, Run
from lrdoctor.read.build import NormalisedRun
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
from lrdoctor.words import display

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


def _filesystem(url: str):
    import fsspec  # here: only a remote path loads fsspec and its backend

    return fsspec.core.url_to_fs(url)


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


def load_run(run: RemoteRun, read: Callable[..., Run | ReadNote], overrides, arch, key) -> Run | ReadNote:
    """``read`` (ingest's run reader) on the run's objects, staged; paths shown as URLs.
    The staging folder is this call's own and is deleted after, whatever happened. The
    event-file cache is not used (it knows local files); the run cache is, under ``key``,
    unless an object changed since the listing that ``key`` was made from."""
    with tempfile.TemporaryDirectory(prefix="lrdoctor-staging-") as staging:
        found, notes = stage(run, Path(staging), logs=True)
        result = read(found, overrides, arch, False, None if notes else key)
        return _as_remote(result, run, found.root, notes)


def described(run: RemoteRun, stored: NormalisedRun, describe: Callable[..., Run], **options) -> Run:
    """A run from its cache entry: only its config objects are fetched, for fresh metadata."""
    with tempfile.TemporaryDirectory(prefix="lrdoctor-staging-") as staging:
        found, notes = stage(run, Path(staging), logs=False)
        return _as_remote(describe(found, stored, **options), run, found.root, notes)


def stage(run: RemoteRun, staging: Path, logs: bool) -> tuple[FoundRun, list[ReadNote]]:
    """The run's objects (its logs when ``logs``, its configs always) copied under
    ``staging`` as the run's folder tree, and the FoundRun that reads them there. An
    object that is gone is left out (its reader then says it cannot be read); one that
    changed since the listing is read as it is now, with a note (``CHANGED``)."""
    fs, root = _filesystem(run.url)
    root = root.rstrip("/")
    top = staging / run.base
    top.mkdir(parents=True)
    notes = []
    for item in (*(run.logs() if logs else ()), *run.configs):
        limit = _read_limit(item, run)
        try:
            now = _fetch(fs, f"{root}/{item.key}", top / item.key, limit)
        except FileNotFoundError:
            continue
        if now != (item.size, item.version) and item in run.logs():
            notes.append(ReadNote(display(f"{run.url}/{item.key}"),
                                  f"{CHANGED} ({item.size:,} bytes then, {now[0]:,} now): read as it is now"))
    directory = top / run.directory if run.directory else top
    found = FoundRun(
        path=directory, root=top, name=run.name,
        event_files=tuple(top / item.key for item in run.event_files),
        progress_csv=top / run.progress_csv.key if run.progress_csv else None,
    )
    return found, notes


CHANGED = "changed since it was listed"


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
    returned as None, so it matches no listing. A range that comes back short (the object
    shrank under the read) ends the copy: the reader then sees a truncated file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fs.invalidate_cache(path)  # the object as it is, not as the listing saw it
    before = _retried(fs.info, path)
    size = int(before.get("size") or 0)
    end = size if limit is None else min(size, limit)
    try:
        with open(target, "wb") as handle:
            offset = 0
            while offset < end:
                block = _retried(fs.cat_file, path, start=offset, end=min(end, offset + _RANGE))
                if not block:
                    break
                handle.write(block)
                offset += len(block)
    except BaseException:
        target.unlink(missing_ok=True)  # never a half-copied object read as if it were whole
        raise
    fs.invalidate_cache(path)
    after = _retried(fs.info, path)
    same = _version(after) == _version(before) and int(after.get("size") or 0) == size
    return int(after.get("size") or 0), _version(after) if same else None


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
