"""The cache's files: where they live, how an entry is framed, how one is written, and the
digest of lrdoctor's code that every key holds. Standard library only: the replay of an
unchanged analysis (``lrdoctor.replay``) reads and writes its entries before numpy loads.
What entries hold and when they are valid is ``read.cache``'s."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import zlib
from pathlib import Path
from typing import IO, Callable

from lrdoctor.version import VERSION

# Bump when the entry layout changes (2: zlib CRC-32 checksums; 3: own subfolders, keys and
# entries carry inode and ctime, a CRC-32C of the whole prefix read; 4: run entries refer to
# their event files' entries for the points they share; 5: a CRC per array, checked when the
# array is first used, and the header's own).
FORMAT = 5
ENTRY_MAGIC = b"LRDENTRY"
ENTRY_HEADER = 8 + 8 + 4  # magic, header length, CRC of the header
TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".lrdoctor-", ".tmp"
REPLAY_KIND = "replays"  # whole analyses, said again by lrdoctor.replay


def root() -> Path:
    """The cache directory: ``LRDOCTOR_CACHE_DIR``, else the user's cache directory."""
    configured = os.environ.get("LRDOCTOR_CACHE_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir  # here: a configured folder needs no lookup (11M instructions)

    return Path(user_cache_dir("lrdoctor"))


def format_folder() -> str:
    """``<cache>/lrdoctor-cache-v<FORMAT>``, as a string: built for every entry a re-run loads."""
    return os.path.join(root(), f"lrdoctor-cache-v{FORMAT}")


def entry_path(kind: str, key: str) -> str:
    """Built as a string: a re-run builds one for each of the three entries of every run,
    where Paths cost a tenth of the loading."""
    return os.path.join(format_folder(), kind, f"{key}.bin")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of every source file of the installed lrdoctor package: a changed rule must
    not be answered with findings cached by the old one. (This module lives in read/, so the
    package is two levels up.)"""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(VERSION.encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode("utf-8", "surrogateescape") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def framed(header: dict) -> bytes:
    """An entry's start: the magic, the header's length and CRC, the header as JSON."""
    body = json.dumps(header, allow_nan=True).encode()
    return ENTRY_MAGIC + len(body).to_bytes(8, "little") + zlib.crc32(body).to_bytes(4, "little") + body


def unframed(blob: bytes | memoryview) -> tuple[dict, int]:
    """The header at the start of an entry and the offset where its arrays begin; ValueError
    for anything not framed as ``framed`` frames it (not ours, truncated, a damaged header)."""
    if len(blob) < ENTRY_HEADER or blob[:8] != ENTRY_MAGIC:
        raise ValueError("not an entry")
    header_size = int.from_bytes(blob[8:16], "little")
    if header_size > len(blob) - ENTRY_HEADER:
        raise ValueError("header past the end")
    body = blob[ENTRY_HEADER:ENTRY_HEADER + header_size]
    if int.from_bytes(blob[16:20], "little") != zlib.crc32(body):
        raise ValueError("header checksum mismatch")
    header = json.loads(bytes(body))
    if not isinstance(header, dict):
        raise ValueError("header not a mapping")
    return header, ENTRY_HEADER + header_size


def replace_file(path: Path, write: Callable[[IO[bytes]], object], what: str) -> None:
    """``write`` into a temporary file beside ``path``, then renamed over it: a reader never
    meets half an entry. A cache that cannot be written is skipped (logged at debug), and so is
    an entry another user put at ``path``: it is theirs to keep, not this user's to replace."""
    import tempfile  # here: a replay writes nothing, and needs neither this nor logging

    try:
        existing = os.lstat(path)
    except OSError:
        existing = None  # none yet; a folder that cannot be used is found out below
    if existing is not None and not this_users(existing):
        _not_written(what, path, PermissionError("another user's file is there"))
        return
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of the cache's own: ``prune`` deletes a stale temporary only by it (and its header).
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, delete=False
        ) as handle:
            temporary = handle.name
            write(handle)
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError) as error:  # TypeError/ValueError: what JSON cannot hold
        _not_written(what, path, error)
        if temporary:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def this_users(info: os.stat_result) -> bool:
    """Whether a cache file belongs to the user running lrdoctor (always, where there are no
    user ids): ``prune`` deletes only those, in a cache folder others may share."""
    user = getattr(os, "geteuid", None)
    return user is None or info.st_uid == user()


def trusted(info: os.stat_result) -> bool:
    """Whether an entry may be used: a regular file of this user's that no one else may write.
    Entry paths are predictable and ``LRDOCTOR_CACHE_DIR`` may be shared (``/tmp``, a team's
    folder): anyone's well-formed entry there would otherwise be served as a run's numbers."""
    return stat.S_ISREG(info.st_mode) and not info.st_mode & 0o022 and this_users(info)


def _not_written(what: str, path: Path, error: Exception) -> None:
    import logging

    logging.getLogger("lrdoctor.read.cache").debug("%s not written (%s): %s", what, path, error)


def touch(path: str | Path) -> None:
    """Mark an entry as just used: ``prune`` removes the least recently used first."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only or shared cache is still read
