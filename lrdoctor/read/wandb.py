"""The reader of a W&B run directory's ``run-<id>.wandb`` file: history, config and run name.

The file is W&B's transaction log, as its writer (wandb-core, ``core/pkg/leveldb``)
frames it: a 7-byte file header (``:W&B``, magic 0xBEE1 little-endian, version 0),
then LevelDB log blocks of 32 KiB (the header counts in the first). Each chunk is
``crc32:u32 length:u16 type:u8`` and its data; the CRC is zlib's CRC-32 (IEEE) of the
type byte followed by the data. A record is one FULL chunk or FIRST, MIDDLE..., LAST;
a chunk never straddles a block, and fewer than 7 bytes left in a block are zero
padding. An all-zero chunk header is a zeroed (preallocated) block.

Each record is a ``wandb_internal.Record`` protobuf, decoded here by hand for the few
fields lrdoctor uses (field numbers from wandb 0.31's ``wandb_internal.proto``, pinned
by tests on files the real client wrote): ``history`` (2) rows of items, each a key
and its value (``value_json``, or the typed ``number``/``integer``/``boolean`` newer
clients may write); ``config`` (5) updates; ``run`` (17), with the run id, display
name and the initial config; ``tbrecord`` (9), the TensorBoard directory a
``sync_tensorboard`` run mirrors (discovery uses it to keep one run). Everything else (console output, system stats,
telemetry, requests) is skipped unread. The ``wandb`` package is not needed: its
reader is internal API and the package is large.

Integrity, as for event files: a chunk whose CRC fails is never decoded; reading
resumes at the next block, where a chunk must start, and the bytes skipped are
noted. A file still being written ends in a cut chunk: everything before it is read
and the cut is noted with its offset. Nothing is executed: values are JSON, parsed
as data.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrdoctor.configs.loaders import open_regular
from lrdoctor.errors import UnreadableFile
from lrdoctor.model import ReadNote
from lrdoctor.words import display

FILE_HEADER = struct.Struct("<4sHB")
IDENT, MAGIC, VERSION = b":W&B", 0xBEE1, 0
BLOCK = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# A W&B history of a long run is tens of MB; a file past this is read no further (and said).
MAX_WANDB_BYTES = 1 << 30
MAX_RECORD_BYTES = 64 << 20  # one record held whole at most; history rows and configs are KB
_MAX_NOTES = 20

# wandb_internal.Record and the messages inside it: (field number) of what is read.
_RECORD_HISTORY, _RECORD_CONFIG, _RECORD_RUN = 2, 5, 17
_HISTORY_ITEM, _HISTORY_STEP = 1, 2
_ITEM_KEY, _ITEM_NESTED_KEY, _ITEM_BOOLEAN, _ITEM_INTEGER, _ITEM_NUMBER, _ITEM_VALUE_JSON = 1, 2, 4, 5, 6, 16
_STEP_NUM = 1
_CONFIG_UPDATE, _CONFIG_REMOVE = 1, 2
_RUN_ID, _RUN_CONFIG, _RUN_DISPLAY_NAME = 1, 4, 8


@dataclass
class WandbData:
    """What a .wandb file holds: history rows (key -> number, one dict per logged row, in
    order, ``_step`` included), the config as the run last set it, and the run's names."""

    rows: list[dict[str, float]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # every numeric key of every row
    config: dict[str, object] = field(default_factory=dict)
    run_id: str | None = None
    display_name: str | None = None
    notes: list[ReadNote] = field(default_factory=list)
    end_offset: int = 0  # where the last whole record ended


def read_wandb_file(path: Path, want: re.Pattern[str] | None = None) -> WandbData:
    """Every whole record of a .wandb file, a block at a time; UnreadableFile when it is no W&B
    transaction log. With ``want``, rows keep only the keys it matches and the step keys (every
    key is still listed in ``keys``): a long run's history is then held as a few columns."""
    where = display(str(path))
    result = WandbData()
    try:
        with os.fdopen(open_regular(path), "rb") as handle:  # never blocks: see open_regular
            head = handle.read(FILE_HEADER.size)
            if len(head) < FILE_HEADER.size:
                if head and not IDENT.startswith(head[: len(IDENT)]):
                    raise UnreadableFile(path, "not a W&B run file (no :W&B header)")
                result.notes.append(ReadNote(where, "nothing written yet (no whole header)", 0))
                return result
            ident, magic, version = FILE_HEADER.unpack(head)
            if ident != IDENT or magic != MAGIC:
                raise UnreadableFile(path, "not a W&B run file (no :W&B header)")
            if version != VERSION:
                raise UnreadableFile(path, f"W&B transaction log version {version}: only version {VERSION} is known")
            for record in _records(_file_blocks(handle, head, where, result), where, result):
                _take(record, result, where, want)
    except OSError as error:
        raise UnreadableFile(path, f"cannot read: {error.strerror or error}") from None
    return result


def _file_blocks(handle, head: bytes, where: str, result: WandbData):
    """(offset, bytes) of each 32 KiB block, the first holding the file header; up to MAX_WANDB_BYTES."""
    offset, block = 0, head + handle.read(BLOCK - len(head))
    while block:
        yield offset, block
        offset += len(block)
        if len(block) < BLOCK:
            return
        if offset >= MAX_WANDB_BYTES:
            result.notes.append(ReadNote(where, f"larger than {MAX_WANDB_BYTES:,} bytes: read to there"))
            return
        block = handle.read(BLOCK)


def _blocks_of(data: bytes):
    for offset in range(0, len(data), BLOCK):
        yield offset, data[offset : offset + BLOCK]


def _records(blocks, where: str, result: WandbData):
    """Each whole, CRC-checked record's bytes, from (offset, block) pairs; notes what was skipped
    or cut. A chunk never straddles a block, so each block is framed on its own."""
    pending: list[bytes] | None = None  # the chunks of a record begun by FIRST
    pending_at = pending_size = skipped = end = 0
    for offset, block in blocks:
        pos = FILE_HEADER.size if offset == 0 else 0
        end = offset + len(block)
        while pos + CHUNK_HEADER.size <= len(block):
            crc, length, kind = CHUNK_HEADER.unpack_from(block, pos)
            if crc == 0 and length == 0 and kind == 0:  # a zeroed block: nothing was written here
                break
            start, stop = pos + CHUNK_HEADER.size, pos + CHUNK_HEADER.size + length
            at = offset + pos
            if stop > BLOCK or kind not in (FULL, FIRST, MIDDLE, LAST):
                skipped += BLOCK - pos
                _note(result, ReadNote(where, f"damaged chunk header at byte {at:,}: skipped to the next block", at))
                pending = None
                break
            if stop > len(block):  # the end of what is written: cut
                break
            if zlib.crc32(block[start - 1 : stop]) != crc:
                skipped += BLOCK - pos
                _note(result, ReadNote(where, f"chunk at byte {at:,} fails its CRC: skipped to the next block", at))
                pending = None
                break
            chunk = block[start:stop]
            pos = stop
            if kind == FULL:
                if pending is not None:
                    _note(result, ReadNote(where, f"record begun at byte {pending_at:,} never ended: skipped",
                                           pending_at))
                pending = None
                result.end_offset = offset + pos
                yield chunk
            elif kind == FIRST:
                pending, pending_at, pending_size = [chunk], at, len(chunk)
            elif pending is None:
                _note(result, ReadNote(where, f"record piece without its start at byte {at:,}: skipped", at))
            else:
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size > MAX_RECORD_BYTES:  # a media file, never a history row: not held
                    _note(result, ReadNote(where, f"record at byte {pending_at:,} longer than "
                                                  f"{MAX_RECORD_BYTES:,} bytes: skipped", pending_at))
                    pending = None
                elif kind == LAST:
                    result.end_offset = offset + pos
                    yield b"".join(pending)
                    pending = None
    if result.end_offset < end:
        cut = end - result.end_offset
        result.notes.append(ReadNote(where, f"last record cut (a run still being written, or a file cut short): "
                                            f"{cut:,} bytes after byte {result.end_offset:,} not read",
                                     result.end_offset))
    if skipped:
        result.notes.append(ReadNote(where, f"{skipped:,} bytes skipped past damaged chunks"))


def _note(result: WandbData, note: ReadNote) -> None:
    if len(result.notes) < _MAX_NOTES:
        result.notes.append(note)


# ---------------------------------------------------------------- protobuf, the few fields used


class _NotProtobuf(Exception):
    pass


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of each field: an int for varints, bytes for the rest."""
    fields = []
    pos, end = 0, len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:  # one-byte keys: every field number below 16
            pos += 1
        else:
            key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            size = data[pos] if pos < end else 0x80
            if size < 0x80:
                pos += 1
            else:
                size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise _NotProtobuf(f"wire type {wire}")
        if pos > end:
            raise _NotProtobuf("field runs past its message")
        fields.append((number, value))
    return fields


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _NotProtobuf("bad varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _take(record: bytes, result: WandbData, where: str, want: re.Pattern[str] | None = None) -> None:
    """One Record into ``result``: a history row, a config update, or the run's names."""
    try:
        for number, value in _fields(record):
            if number == _RECORD_HISTORY and isinstance(value, bytes):
                row = _history_row(value)
                result.keys.update(row)
                if want is not None:
                    row = {key: item for key, item in row.items() if key in STEP_KEYS or want.fullmatch(key)}
                if row:
                    result.rows.append(row)
            elif number == _RECORD_CONFIG and isinstance(value, bytes):
                _config_update(value, result.config)
            elif number == _RECORD_RUN and isinstance(value, bytes):
                _run(value, result)
    except _NotProtobuf as error:
        _note(result, ReadNote(where, f"a record that is not a W&B Record ({error}): skipped"))


def _history_row(message: bytes) -> dict[str, float]:
    """A history row's numeric items; ``_step`` from the row's step when the items lack it."""
    row: dict[str, float] = {}
    step = None
    for number, value in _fields(message):
        if number == _HISTORY_ITEM and isinstance(value, bytes):
            for key, item in _item_values(value):
                row[key] = item
        elif number == _HISTORY_STEP and isinstance(value, bytes):
            for inner, num in _fields(value):
                if inner == _STEP_NUM and isinstance(num, int):
                    step = num - (1 << 64) if num >= 1 << 63 else num
    if step is not None:
        row.setdefault("_step", float(step))
    return row


def _item_values(message: bytes) -> list[tuple[str, float]]:
    """An item as (key, number) pairs: a number, or each number inside a JSON dict (keys
    joined with "."); text, media and lists are no scalars and give nothing."""
    fields = _fields(message)
    if len(fields) == 2 and fields[0][0] == _ITEM_KEY and fields[1][0] == _ITEM_VALUE_JSON:  # nearly every item
        value = _json(_text(fields[1][1]))
        if type(value) is float:
            return [(_text(fields[0][1]), value)]
    key, nested, value = "", [], None
    for number, raw in fields:
        if number == _ITEM_KEY:
            key = _text(raw)
        elif number == _ITEM_NESTED_KEY:
            nested.append(_text(raw))
        elif number == _ITEM_VALUE_JSON:
            value = _json(_text(raw))
        elif number == _ITEM_NUMBER and isinstance(raw, bytes) and len(raw) == 8:
            value = struct.unpack("<d", raw)[0]
        elif number == _ITEM_INTEGER and isinstance(raw, int):
            value = (raw >> 1) ^ -(raw & 1)  # sint64: zigzag
        elif number == _ITEM_BOOLEAN and isinstance(raw, int):
            value = bool(raw)
    name = key or ".".join(nested)
    return list(_numbers(name, value, depth=0)) if name else []


def _numbers(name: str, value: object, depth: int):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        try:
            yield name, float(value)
        except OverflowError:  # an integer past float64 is no metric
            return
    elif isinstance(value, dict) and depth < 8 and not str(value.get("_type", "")):
        for key, inner in value.items():
            yield from _numbers(f"{name}.{key}", inner, depth + 1)


def _json(text: str) -> object:
    """JSON as W&B writes it (NaN and Infinity as bare words, which json reads); None when not JSON.
    A plain number, nearly every value, is read as one without the JSON parser."""
    if text[:1] in _NUMBER_STARTS:
        try:
            number = float(text)
        except ValueError:
            pass
        else:  # a number past float64 reads as inf: no metric, unless it says Infinity
            return number if not math.isinf(number) or "Infinity" in text else None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


_NUMBER_STARTS = frozenset("-0123456789NI")


def _config_update(message: bytes, config: dict[str, object]) -> None:
    for number, value in _fields(message):
        if number not in (_CONFIG_UPDATE, _CONFIG_REMOVE) or not isinstance(value, bytes):
            continue
        key, nested, parsed = "", [], None
        for inner, raw in _fields(value):
            if inner == _ITEM_KEY:
                key = _text(raw)
            elif inner == _ITEM_NESTED_KEY:
                nested.append(_text(raw))
            elif inner == _ITEM_VALUE_JSON:
                parsed = _json(_text(raw))
        name = key or "/".join(nested)
        if not name or name.startswith("_wandb"):
            continue
        if number == _CONFIG_REMOVE:
            config.pop(name, None)
        else:
            # W&B's config.yaml wraps each value as {"value": ..., "desc": ...}; the records do not
            config[name] = parsed


def _run(message: bytes, result: WandbData) -> None:
    for number, value in _fields(message):
        if number == _RUN_ID:
            result.run_id = _text(value)
        elif number == _RUN_DISPLAY_NAME:
            result.display_name = _text(value)
        elif number == _RUN_CONFIG and isinstance(value, bytes):
            _config_update(value, result.config)


# ---------------------------------------------------------------- from rows to a run's scalars

# The x-axis of a W&B run, in order of preference: CleanRL's sync_tensorboard rows carry the
# TensorBoard step as global_step; PufferLib 1-2 log 0verview/agent_steps (with a zero) and
# PufferLib 3 agent_steps, passed as wandb's step too; Tune's WandbLoggerCallback logs each
# result whole, stepped here as Tune's TensorBoard logger steps it (timesteps_total, else
# training_iteration); otherwise wandb's own row counter.
TUNE_STEP_KEYS = ("timesteps_total", "training_iteration")
STEP_KEYS = ("global_step", "0verview/agent_steps", "agent_steps", *TUNE_STEP_KEYS, "_step")
WANDB_COLUMNS = ("_step", "_runtime", "_timestamp")


def wandb_scalars(data: WandbData, want, where: str):
    """(scalars of the wanted keys by step, every key, the step key, notes). A row without
    the step key is not placed on the axis: counted and said."""
    keys = data.keys
    step_key = next((key for key in STEP_KEYS if key in keys), None)
    notes: list[ReadNote] = []
    if step_key is None:
        return {}, keys, None, notes

    # W&B's own columns and the axis are no metrics; Tune's counters stay (its TensorBoard logger keeps them)
    axis_keys = set(WANDB_COLUMNS) | ({step_key} - set(TUNE_STEP_KEYS))
    columns: dict[str, tuple[list[int], list[float]]] = {}
    unplaced = 0
    for row in data.rows:
        step = row.get(step_key)
        if step is None or not math.isfinite(step) or step != int(step):
            unplaced += 1
            continue
        for key, value in row.items():
            if key in axis_keys or not want.fullmatch(key):
                continue
            steps, values = columns.setdefault(key, ([], []))
            steps.append(int(step))
            values.append(value)
    if unplaced:
        notes.append(ReadNote(where, f"{unplaced:,} history rows without a whole-number {display(step_key)}: "
                                     "not placed on the step axis"))
    scalars = {key: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64))
               for key, (s, v) in columns.items()}
    return scalars, keys - axis_keys, step_key, notes


# ---------------------------------------------------------------- the TensorBoard directory a run mirrored

_RECORD_TBRECORD, _TB_LOG_DIR, _TB_ROOT_DIR = 9, 1, 3
_TB_SCAN_BYTES = 1 << 20  # sync_tensorboard's record comes with the first rows; a run's first MB holds it


def tensorboard_records(path: Path) -> list[tuple[str, str]]:
    """(log_dir, root_dir) of each TensorBoard directory the run mirrored with
    ``sync_tensorboard``, from the file's first MB; none when it cannot be read."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            data = handle.read(_TB_SCAN_BYTES)
    except OSError:
        return []
    if len(data) < FILE_HEADER.size or FILE_HEADER.unpack_from(data)[:2] != (IDENT, MAGIC):
        return []
    found = []
    try:
        for record in _records(_blocks_of(data), "", WandbData()):
            for number, value in _fields(record):
                if number == _RECORD_TBRECORD and isinstance(value, bytes):
                    fields = dict(_fields(value))
                    found.append((_text(fields.get(_TB_LOG_DIR)), _text(fields.get(_TB_ROOT_DIR))))
    except _NotProtobuf:
        pass
    return [(log_dir, root_dir) for log_dir, root_dir in found if log_dir]
