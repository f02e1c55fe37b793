"""Cache of decoded event files, so re-analysing an unchanged sweep reads nothing twice.

One entry per (event file, tag selection, lrdoctor version), in the user's cache
directory (``LRDOCTOR_CACHE_DIR`` overrides it), never beside the runs. An entry
remembers the file's identity when it was read (device, inode, size, mtime and
ctime), how far it was read (``end_offset``) and a CRC-32C of those ``end_offset``
bytes:

- the same identity: the entry is the answer, the event file is not opened. The
  ctime is what catches a file rewritten and given its old size and mtime back
  (``os.utime`` cannot set a ctime);
- the same file (device and inode), grown, and the CRC of the whole prefix still
  matches: only the new records are read (from ``end_offset``) and appended -- a
  live run is read incrementally;
- anything else (shrunk, replaced, rewritten anywhere in the prefix): read again in full.

Event-file entries use the same checksummed entry format as the run cache below
(no pickle), read with the same suspicion as any input: a corrupt, truncated or
other-version entry is ignored and rebuilt, never trusted. The header and each array have a
CRC of their own; an array's is checked when the array is first used (``StoredArrays``).
Writes go to a temporary file renamed into place. When the cache directory is unusable,
reading goes on without it (logged at debug).

The cache owns only what it wrote. ``LRDOCTOR_CACHE_DIR`` may well be a shared folder
(``~/.cache``, ``/tmp``, a CI cache), so entries live in subfolders of its own,
``<cache>/lrdoctor-cache-v<FORMAT>/<kind>/``, and ``prune`` touches a file only when it
is in one of those subfolders, has an entry's name (``<sha256>.bin``) or a temporary
entry's (``.lrdoctor-*.tmp``), starts with the entry header and is this user's: a user's
``model.bin`` or ``notes.tmp`` beside them, or another user's entries, are never counted,
never deleted. An entry is used only when this user owns it and no one else may write it
(``store.trusted``): entry paths are predictable, and in a shared folder anyone could put a
well-formed entry where a run's belongs.

The cache is bounded: ``prune`` deletes the least recently used entries once the whole
cache holds more than ``LRDOCTOR_CACHE_MAX_MB`` (default 2048 MB; a sweep of 100 runs x
10,000 steps takes about 250 MB). Every entry used is touched, and what the analysis that
prunes has just used is never deleted: a sweep bigger than the bound stays cached whole
(everything older goes), rather than evicting its own entries on every run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import mmap
import os
import re
import time
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

from lrdoctor.errors import InputError
from lrdoctor.model import Deferred, Extent, Finding, LRShape, Metrics, MetricSource, Points, ReadNote, Severity
from lrdoctor.read.build import NormalisedRun
from lrdoctor.read.normalise import Normalised
from lrdoctor.read.store import (
    ENTRY_MAGIC,
    FORMAT,
    REPLAY_KIND,
    code_digest,
    entry_path,
    format_folder,
    framed,
    replace_file,
    root,
    this_users,
    touch,
    trusted,
    unframed,
)
from lrdoctor.version import VERSION

if TYPE_CHECKING:
    from lrdoctor.read.events import EventData

# Every format's folder from 3 on: all ours, so pruning also clears what older versions
# left. Format 2 and before kept entries in <cache>/<kind>-<FORMAT>/: never touched.
_FOLDER = re.compile(r"lrdoctor-cache-v[0-9]+")
_EVENTS_KIND = "events"  # entries live in cache_dir(), i.e. <cache>/lrdoctor-cache-v<FORMAT>/events/
_RUNS_KIND = "runs"
_FINDINGS_KIND = "findings"
REMOTE_EVENTS_KIND = "remote-events"  # objects in a bucket as far as read (read.remote), keyed on their URL
_KINDS = (_EVENTS_KIND, _RUNS_KIND, _FINDINGS_KIND, REMOTE_EVENTS_KIND, REPLAY_KIND)
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.bin")
_TEMPORARY_NAME = re.compile(r"\.lrdoctor-[A-Za-z0-9_]+\.tmp")
_CRC_BLOCK = 8 << 20  # bytes read at a time to checksum a prefix: memory stays bounded
DEFAULT_MAX_MB = 2048
MAX_MB = 1 << 30  # a petabyte: more than a cache disk holds, and a byte count an int64 and a float hold exactly
# A temporary file this old is left by a process that died while writing it.
_STALE_TEMPORARY_NS = 3600 * 10**9
# File times come from a coarse kernel clock, a few ms behind time.time_ns(): an entry used
# this long before an analysis started still counts as used by it.
_CLOCK_SLACK_NS = 2 * 10**9
_log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where this version's event-file entries live; its parent holds every kind of entry."""
    return Path(format_folder(), _EVENTS_KIND)


def max_bytes() -> int:
    """The cache's size bound, from ``LRDOCTOR_CACHE_MAX_MB``; a value that is not a
    number of megabytes from 0 to ``MAX_MB`` is an input error, not silently the default
    (``1e308`` once overflowed into an internal error)."""
    text = os.environ.get("LRDOCTOR_CACHE_MAX_MB", "").strip()
    if not text:
        return DEFAULT_MAX_MB << 20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 <= megabytes <= MAX_MB:
        raise InputError(f"LRDOCTOR_CACHE_MAX_MB={text}: expected a size in megabytes from 0 to {MAX_MB:,}, e.g. 2048")
    return int(megabytes * (1 << 20))


def prune(limit: int, in_use_since: int) -> int:
    """Delete the least recently used entries (and temporary files left by a crash) until
    the cache holds at most ``limit`` bytes, keeping every entry used or written since
    ``in_use_since`` (``time.time_ns()`` when the analysis started); returns the bytes freed.
    Only files the cache wrote are counted or deleted (``_owned``).
    Another process may be reading or pruning at the same time: a file already gone is
    simply skipped, and a reader that loses an entry reads the run again."""
    now, keep_from = time.time_ns(), in_use_since - _CLOCK_SLACK_NS
    entries, total, freed = [], 0, 0
    try:
        for path, stat, temporary in _owned(root()):
            if not temporary:
                entries.append((stat.st_mtime_ns, stat.st_size, path))
            elif now - stat.st_mtime_ns > _STALE_TEMPORARY_NS:
                entries.append((-1, stat.st_size, path))  # first to go
            # a fresh temporary is another process's write in progress: counted, kept
            total += stat.st_size
    except OSError as error:
        _log.debug("cache not pruned: %s", error)
        return 0
    for used, size, path in sorted(entries):
        if used >= keep_from or (total - freed <= limit and used != -1):
            break
        try:
            os.unlink(path)
            freed += size
        except OSError:
            pass
    return freed


def _owned(root: Path) -> Iterator[tuple[str, os.stat_result, bool]]:
    """Every file the cache wrote under ``root``, with its stat and whether it is a temporary:
    a regular file in ``lrdoctor-cache-v<N>/<kind>/``, named as an entry or a temporary entry,
    that starts with the entry header. Anything else there is a user's, and never touched."""
    for folder in os.scandir(root):
        if not (_FOLDER.fullmatch(folder.name) and folder.is_dir(follow_symlinks=False)):
            continue
        for kind in os.scandir(folder.path):
            if kind.name not in _KINDS or not kind.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(kind.path):
                temporary = bool(_TEMPORARY_NAME.fullmatch(entry.name))
                if not (temporary or _ENTRY_NAME.fullmatch(entry.name)) or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                if this_users(info) and _starts_with_header(entry.path):
                    yield entry.path, info, temporary


def _starts_with_header(path: str) -> bool:
    try:
        # O_NONBLOCK: a FIFO swapped in after the scan cannot make the open wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        return os.read(fd, len(ENTRY_MAGIC)) == ENTRY_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def read_events(path: Path, want: re.Pattern[str] | None = None, use_cache: bool = True) -> EventData:
    """Read one event file, from the cache when it is still valid.
    Raises OSError, like ``read_event_file``, when the file cannot be read."""
    # Here, not at the top: a re-run served by the run cache reads no event file, and then
    # the reader (and its CRC-32C, lrdoctor.read.crc) is never loaded.
    from lrdoctor.read.events import appended, read_event_file

    if not use_cache:
        return read_event_file(path, want)
    resolved = Path(path).resolve()
    stat = resolved.stat()
    source = _source(resolved, want)
    key = source_key(source)
    entry = _load(key, source)
    if entry is not None and entry[0]["identity"] == identity(stat):
        return _as_read_from(path, entry[1])
    if entry is not None and _only_grown(entry, resolved, stat):
        meta, old = entry
        data = appended(old, read_event_file(resolved, want, start=old.end_offset))
        crc = prefix_crc(resolved, old.end_offset, data.end_offset, meta["crc"])
    else:
        data = read_event_file(resolved, want)
        crc = prefix_crc(resolved, 0, data.end_offset)
    if crc is not None:  # None: the file shrank under the read; the next read starts afresh
        _store(key, source, stat, crc, data)
    return _as_read_from(path, data)


def _only_grown(entry: tuple[dict, EventData], path: Path, stat: os.stat_result) -> bool:
    """Whether the file has only been appended to since ``entry`` was made: the same file
    (device and inode), longer, and the CRC of all it had then still the same."""
    meta, data = entry
    then = meta["identity"]
    if then[:2] != identity(stat)[:2] or stat.st_size <= then[2] or stat.st_size < data.end_offset:
        return False
    return prefix_crc(path, 0, data.end_offset) == meta["crc"]


def identity(stat: os.stat_result) -> list[int]:
    """What says a file is unchanged: device, inode, size, mtime and ctime. Size and mtime
    alone are not enough: a file rewritten and given its old mtime back (``touch -r``,
    ``os.utime``) keeps both, but not its ctime, which no call can set."""
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _as_read_from(path: Path, data: EventData) -> EventData:
    """Notes name the file as the caller named it, however it was cached."""
    data.notes = [ReadNote(str(path), note.message, note.offset) for note in data.notes]
    return data


def source_key(source: str) -> str:
    """The key of the event-data entry made from ``source`` (a file's or an object's): its name."""
    return hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()


def _source(resolved: Path, want: re.Pattern[str] | None) -> str:
    """What an entry was made from; stored in it and compared, not only hashed into its name."""
    selection = "*" if want is None else f"{want.flags}:{want.pattern}"
    return f"{resolved}\0{selection}\0lrdoctor {VERSION}\0format {FORMAT}"


def prefix_crc(path: Path, start: int, end: int, value: int = 0) -> int | None:
    """CRC-32C of bytes [start, end) of ``path``, continuing ``value`` (the CRC of [0, start));
    None when they cannot all be read. Of the whole prefix, not only its ends: a file
    rewritten in the middle that kept its first and last bytes is not "appended"."""
    from lrdoctor.read.crc import crc32c  # here: a cached re-run computes no CRC

    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                block = handle.read(min(left, _CRC_BLOCK))
                if not block:
                    return None  # shorter than it was a moment ago
                value = crc32c(block, value)
                left -= len(block)
    except OSError:
        return None
    return value


def _store(key: str, source: str, stat: os.stat_result, crc: int, data: EventData) -> None:
    header, arrays = packed_event_data(data)
    store_entry(_EVENTS_KIND, key, {"source": source, "identity": identity(stat), "crc": crc, **header}, arrays)


def _load(key: str, source: str) -> tuple[dict, EventData] | None:
    """The entry for ``source``, or None if it is missing or not exactly as written."""
    entry = load_event_entry(_EVENTS_KIND, key, source)
    if entry is None:
        return None
    meta, data = entry
    try:
        meta["identity"], meta["crc"] = [int(v) for v in meta["identity"]], int(meta["crc"])
    except (KeyError, TypeError, ValueError):  # an entry not as written: rebuild it
        return None
    return meta, data


def load_event_entry(kind: str, key: str, source: str) -> tuple[dict, EventData] | None:
    """The header and decoded event data stored under ``key`` for ``source``; None when it is
    missing, made from something else, or not exactly as written."""
    entry = load_entry(kind, key)
    if entry is None or entry[0].get("source") != source:
        return None
    try:
        return entry[0], unpacked_event_data(*entry)
    except Exception as error:  # noqa: BLE001 -- any defect in an entry means: rebuild it
        _log.debug("event cache entry ignored (%s): %s", key, error)
        return None


def packed_event_data(data: EventData) -> tuple[dict, dict[str, np.ndarray]]:
    """What an event file decoded to, as an entry's header fields and arrays (a local file's
    entry here, an object's in ``read.remote``)."""
    tags = sorted(data.scalars)
    header = {
        "end_offset": data.end_offset,
        "tags": tags,
        "scalar_tags": sorted(data.scalar_tags),
        "texts": data.texts,
        "hparams": data.hparams,
        "notes": [[n.path, n.message, n.offset] for n in data.notes],
    }
    arrays = {}
    for index, tag in enumerate(tags):
        arrays[f"steps{index}"], arrays[f"values{index}"] = data.scalars[tag]
    return header, arrays


def unpacked_event_data(meta: dict, arrays: Mapping[str, np.ndarray]) -> EventData:
    """``packed_event_data`` undone; raises (KeyError, ValueError, ...) on an entry not as written."""
    from lrdoctor.read.events import EventData

    scalars = {}
    for index, tag in enumerate(meta["tags"]):
        steps, values = arrays[f"steps{index}"], arrays[f"values{index}"]
        if steps.dtype != np.int64 or values.dtype != np.float64 or steps.shape != values.shape:
            raise ValueError(f"bad arrays for {tag!r}")
        scalars[str(tag)] = (steps, values)
    return EventData(
        scalars=scalars,
        scalar_tags={str(t) for t in meta["scalar_tags"]},
        texts={str(k): str(v) for k, v in meta["texts"].items()},
        hparams=dict(meta["hparams"]),
        notes=[ReadNote(str(p), str(m), None if o is None else int(o)) for p, m, o in meta["notes"]],
        end_offset=int(meta["end_offset"]),
    )


# --- whole runs and their findings ----------------------------------------------
#
# A sweep re-analysed unchanged should cost little more than starting Python: one
# small file per run holds its normalised metrics (keyed on its files' ``identity``),
# and one its findings (keyed on that, its metadata and the options).
# Both keys include a digest of lrdoctor's own source, so an edited rule or
# reader never meets results computed by the old code.

class DamagedEntry(Exception):
    """An entry's array does not match its CRC: the entry is not used, and what it held is read again.
    Not a ValueError: no handler of bad values on the way may take it for one."""


class StoredArrays(Mapping[str, np.ndarray]):
    """An entry's arrays, each checked against its CRC when first asked for: a cached re-run
    uses the KL's points and the extent of the rest, and checking every byte of every entry
    took a tenth of it. ``__getitem__`` raises ``DamagedEntry`` for an array that is not as written."""

    def __init__(self, arrays: dict[str, tuple[np.ndarray, int]]) -> None:
        self._unchecked = arrays
        self._checked: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._checked:
            array, crc = self._unchecked[name]
            if zlib.crc32(array) != crc:
                raise DamagedEntry(f"array {name!r} does not match its CRC")
            self._checked[name] = array
        return self._checked[name]

    def unchecked(self, name: str) -> np.ndarray:
        """The array not yet checked: for its dtype and length only, which the checked header gives."""
        return self._unchecked[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._unchecked)

    def __len__(self) -> int:
        return len(self._unchecked)


def entry_key(*parts: object) -> str:
    """A key from plain, deterministic parts (strings, numbers, lists, dicts with str keys)."""
    text = json.dumps([FORMAT, code_digest(), *parts], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_entry(kind: str, key: str) -> tuple[dict, StoredArrays] | None:
    """The header and 1-d arrays stored under ``key``; None when missing, not ours, or its
    header is damaged. Each array is checked against its CRC when it is used (``StoredArrays``)."""
    path = entry_path(kind, key)
    try:
        # O_NONBLOCK: a FIFO put where an entry belongs (a shared cache dir) cannot make this wait;
        # O_NOFOLLOW: entries are renamed into place, never links (one could lead to any file of ours).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        try:
            if not trusted(os.fstat(fd)):
                raise ValueError("not a regular file of this user's that only this user may write")
            # Mapped, not read: copying every run's arrays into fresh memory costs more than
            # the rest of a cached analyze. A private (copy-on-write) mapping keeps the arrays
            # writable like freshly read ones; entries are replaced by rename, never rewritten.
            blob = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY)
        finally:
            os.close(fd)
        header, offset = unframed(memoryview(blob))  # slices of a view are not copies
        if header.get("key") != key:
            return None
        arrays = {}
        for name, dtype, count, crc in header["arrays"]:
            dtype = np.dtype({"i8": np.int64, "f8": np.float64}[dtype])
            end = offset + int(count) * dtype.itemsize
            if end > len(blob):
                raise ValueError(f"array {name!r} past the end")
            arrays[str(name)] = np.frombuffer(blob, dtype=dtype, count=int(count), offset=offset), int(crc)
            offset = end
        if offset != len(blob):
            raise ValueError("trailing bytes")
        touch(path)
        return header, StoredArrays(arrays)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 -- any defect in an entry means: rebuild it
        _log.debug("cache entry ignored (%s): %s", path, error)
        return None


def load_judgement(key: str) -> tuple[list[Finding], dict] | None:
    """A run's cached findings and ``judged_by``; None when there is no entry as written."""
    entry = load_entry(_FINDINGS_KIND, key)
    if entry is None:
        return None
    try:
        header = entry[0]
        return [_decoded(item) for item in header["findings"]], _unpacked(header["judged_by"])
    except (KeyError, TypeError, ValueError):  # an entry not as written: the run is judged again
        return None


def store_judgement(key: str, findings: Sequence[Finding], judged_by: Mapping[str, Any]) -> None:
    """Cache a run's findings, only where JSON gives them back exactly (a NaN in evidence would not be)."""
    try:
        encoded = [_encoded(finding) for finding in findings]
        packed = _packed(dict(judged_by))
    except TypeError:  # evidence JSON cannot hold: not cached
        return
    if [_decoded(json.loads(json.dumps(item))) for item in encoded] == list(findings):
        store_entry(_FINDINGS_KIND, key, {"findings": encoded, "judged_by": packed})


def _encoded(finding: Finding) -> dict:
    fields = {f.name: getattr(finding, f.name) for f in dataclasses.fields(finding)}
    return {**fields, "severity": Severity(finding.severity).value, "evidence": _packed(finding.evidence),
            "fix": _packed(finding.fix)}


def _decoded(item: dict) -> Finding:
    return Finding(**{**item, "severity": Severity(item["severity"]), "evidence": _unpacked(item["evidence"]),
                      "fix": _unpacked(item["fix"])})


def _packed(value):
    """JSON that keeps tuples tuples and dict keys what they were: containers are tagged."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, tuple):
        return ["t", [_packed(v) for v in value]]
    if isinstance(value, list):
        return ["l", [_packed(v) for v in value]]
    if isinstance(value, dict):
        return ["d", [[_packed(k), _packed(v)] for k, v in value.items()]]
    raise TypeError(f"not cacheable: {type(value).__name__}")


def _unpacked(value):
    if not isinstance(value, list):
        return value
    tag, items = value
    if tag == "t":
        return tuple(_unpacked(v) for v in items)
    if tag == "l":
        return [_unpacked(v) for v in items]
    if tag == "d":
        return {_unpacked(k): _unpacked(v) for k, v in items}
    raise ValueError(f"unknown container tag {tag!r}")


def store_entry(kind: str, key: str, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write an entry atomically; a cache that cannot be written is skipped (logged at debug)."""
    arrays = {name: np.ascontiguousarray(array) for name, array in (arrays or {}).items()}
    columns = []
    for name, array in arrays.items():
        code = {np.dtype(np.int64): "i8", np.dtype(np.float64): "f8"}[array.dtype]
        columns.append([name, code, int(array.size), zlib.crc32(array)])

    def write(handle: IO[bytes]) -> None:
        prefix = framed({**header, "key": key, "arrays": columns})
        handle.write(b"".join([prefix, *(array.tobytes() for array in arrays.values())]))

    replace_file(Path(entry_path(kind, key)), write, "cache entry")


def store_run(key: str, run: NormalisedRun, event_files: Sequence[tuple[Path, re.Pattern[str] | None]] = ()) -> None:
    """Keep a run's normalised metrics, LR shape, texts, hparams and read notes under ``key``
    (from ``ingest.run_key``); its metadata is not kept: it is read afresh every time.

    Each run's points are kept once: a metric whose points are, bit for bit, one tag's points
    (or their negation) in the entry of one of ``event_files`` (the run's files, and the tag
    selection they were read with) is kept as a reference to that entry, not copied. Only
    points normalising changed (merged from several files) are written here."""
    normalised = run.normalised
    names = list(normalised.metrics)
    stored = [_event_entry(path, want) for path, want in event_files]
    header = {
        "metrics": names,
        "sources": [[s.tag, s.negated, s.estimator, s.library] for s in (normalised.sources[m] for m in names)],
        "library": normalised.library,
        "step_axis": normalised.step_axis,
        "lr_shape": dataclasses.asdict(run.lr_shape),
        "unknown_tags": list(normalised.unknown_tags),
        "normalise_notes": [[n.path, n.message, n.offset, n.info] for n in normalised.notes],
        "read_notes": [[n.path, n.message, n.offset, n.info] for n in run.notes],
        "texts": dict(run.texts),
        "hparams": dict(run.hparams),
        "shared": {},
        "extents": [],
    }
    arrays = {}
    for index, name in enumerate(names):
        steps, values = normalised.metrics.points(name)
        steps, values = steps.astype(np.int64, copy=False), values.astype(np.float64, copy=False)
        header["extents"].append(dataclasses.astuple(Extent.of(steps)))
        source = normalised.sources[name]
        reference = _reference(stored, source.tag, source.negated, steps, values)
        if reference is not None:
            header["shared"][str(index)] = reference
        else:
            arrays[f"steps{index}"], arrays[f"values{index}"] = steps, values
    store_entry(_RUNS_KIND, key, header, arrays)


def _event_entry(path: Path, want: re.Pattern[str] | None) -> tuple[str, dict, dict[str, np.ndarray]] | None:
    """The event-file entry of ``path`` as the file is now (key, header, arrays), or None."""
    try:
        resolved = Path(path).resolve()
        stat = resolved.stat()
    except OSError:
        return None
    source = _source(resolved, want)
    key = source_key(source)
    entry = load_entry(_EVENTS_KIND, key)
    if entry is None or entry[0].get("source") != source or entry[0].get("identity") != identity(stat):
        return None
    return key, entry[0], entry[1]


def _reference(stored, tag: str, negated: bool, steps: np.ndarray, values: np.ndarray) -> list | None:
    """[event entry key, its identity, the tag's index, negated] of the entry holding exactly
    these points (their values negated, for a metric logged as a loss: SB3's entropy_loss)."""
    for entry in stored:
        if entry is None or tag not in entry[1]["tags"]:
            continue
        key, header, arrays = entry
        index = header["tags"].index(tag)
        try:
            theirs = arrays[f"steps{index}"], arrays[f"values{index}"]
        except DamagedEntry:  # then the points are kept in the run's own entry
            continue
        if _same_bits(theirs[0], steps) and _same_bits(-theirs[1] if negated else theirs[1], values):
            return [key, header["identity"], index, negated]
    return None


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (a NaN's payload and the sign of a zero included)."""
    return a.dtype == b.dtype and a.shape == b.shape and bool((a.view(np.int64) == b.view(np.int64)).all())


def _shared_arrays(reference, loaded: dict[str, tuple[dict, StoredArrays] | None]) -> tuple | None:
    """Where the points a run entry refers to are: (arrays, steps' name, values' name, negated)
    in the event-file entry it names (each entry loaded once per run, into ``loaded``); None
    when that entry is gone or is no longer the one referred to (the file was read again since)."""
    event_key, then, index, negated = reference
    if event_key not in loaded:
        loaded[event_key] = load_entry(_EVENTS_KIND, str(event_key))
    entry = loaded[event_key]
    if entry is None or entry[0].get("identity") != then:
        return None
    return entry[1], f"steps{int(index)}", f"values{int(index)}", bool(negated)


def _checked_points(arrays: StoredArrays, steps: str, values: str, negated: bool) -> Points:
    """A metric's points from an entry, each array checked against its CRC (``DamagedEntry``)."""
    return arrays[steps], (-arrays[values] if negated else arrays[values])


def cached_run(key: str) -> NormalisedRun | None:
    """The run stored under ``key``; None when there is no valid entry. Its metrics' points
    are checked and loaded when first used (``Deferred``): a damaged one raises ``DamagedEntry`` then."""
    entry = load_entry(_RUNS_KIND, key)
    if entry is None:
        return None
    header, arrays = entry
    try:
        names = [str(name) for name in header["metrics"]]
        shared, loaded = header["shared"], {}
        points = {}
        for index, name in enumerate(names):
            if str(index) in shared:
                located = _shared_arrays(shared[str(index)], loaded)
                if located is None:
                    return None
            else:
                located = arrays, f"steps{index}", f"values{index}", False
            held, steps_name, values_name, _ = located
            steps, values = held.unchecked(steps_name), held.unchecked(values_name)
            count, first, last = header["extents"][index]
            extent = Extent(int(count), None if first is None else int(first), None if last is None else int(last))
            if steps.dtype != np.int64 or values.dtype != np.float64 or not len(steps) == len(values) == extent.count:
                return None
            # no copies: private mappings of the entries, checked when first used
            points[name] = Deferred(extent, functools.partial(_checked_points, *located))
        sources = {
            name: MetricSource(tag=str(tag), negated=bool(negated), estimator=estimator, library=library)
            for name, (tag, negated, estimator, library) in zip(names, header["sources"], strict=True)
        }
        normalised = Normalised(
            metrics=Metrics.from_points(points),
            sources=sources,
            library=header["library"],
            step_axis=str(header["step_axis"]),
            unknown_tags=tuple(str(t) for t in header["unknown_tags"]),
            notes=tuple(ReadNote(str(p), str(m), o, bool(i)) for p, m, o, i in header["normalise_notes"]),
        )
        notes = tuple(ReadNote(str(p), str(m), o, bool(i)) for p, m, o, i in header["read_notes"])
        return NormalisedRun(
            normalised, LRShape(**header["lr_shape"]), dict(header["texts"]), dict(header["hparams"]), notes
        )
    except (KeyError, TypeError, ValueError):  # an entry not as written: read the run again
        return None
