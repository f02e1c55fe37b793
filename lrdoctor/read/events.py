"""Read one TensorBoard event file: every scalar point, hparams and text summaries.

An event file is a sequence of TFRecords: uint64 length, masked CRC32C of the
length, the payload (an ``Event`` protobuf), masked CRC32C of the payload.

Decoding 10M events one protobuf at a time costs tens of seconds, so records are
framed and checked in bulk with numpy, and the one layout that nearly every scalar
has -- ``Event{wall_time, step, summary{value{tag, simple_value}}}`` as written by
torch, tensorboardX and tensorboard's writers -- is decoded column-wise. A record
is taken on that path only if its bytes match the layout exactly and fill the
payload, which is exactly when protobuf would decode it to the same fields; every
other record (file_version, TF2 tensor scalars, hparams, text, long tags, ...) goes
through ``Event.FromString``. Nothing is lost and no number is guessed.

Integrity: a record whose payload CRC fails is reported (file, offset) and never
decoded. A length whose CRC fails means the framing after it cannot be trusted,
so reading stops there with a note. A file still being written ends in a partial
record: everything before it is returned and the rest is noted, so a live run
reads as a consistent prefix. Memory stays bounded by a read block plus the
decoded arrays of the wanted tags; no Python object is kept per event.

Bounded whatever a record holds: a record over 1 MB (an image, a graph, a text
summary of 150 MB) is never decoded whole. Its CRC is computed in chunks and its
protobuf fields are walked where they lie, on disk or in the block, reading only
what is kept: a tag, a scalar, the first 64 KB of a text. Text summaries and
hparams strings are cut to 64 KB each and 256 KB per file, with a note: they only
feed the metadata (CleanRL's hyperparameters table is a few KB), and the cache
keeps them.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lrdoctor.configs.loaders import open_regular
from lrdoctor.model import ReadNote
from lrdoctor.read.crc import crc32c
from lrdoctor.words import display

_HEADER = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")
_FLOAT = struct.Struct("<f")
_RECORD_OVERHEAD = 16  # 8 length + 4 length CRC + 4 payload CRC
_BLOCK = 32 << 20  # bytes read at a time: bounds memory on any file size
_MAX_NOTED_RECORDS = 20  # individual notes per file before they are summarised
_MAX_DISTINCT_SCAN = 64  # distinct tags grouped by scanning before sorting instead
_MIN_RUN_PERIODS = 8  # shorter periodic runs are not worth decoding as runs
_FIRST_PERIODS = 64  # periods predicted at first; each confirmed prediction doubles the next
_MAX_RUN_PERIODS = 2048  # longer ones are predicted and decoded in chunks, so their bytes stay in cache
# Records framed, checked and decoded together: the per-record temporaries (a few dozen
# int64 columns) of a block of 2 million tiny records once took half a gigabyte.
_WINDOW = 1 << 17
_FEW_RECORDS = 256  # records outside periodic runs decoded one at a time, not as columns
_MAX_DECODED_RECORD = 1 << 20  # bytes of a record decoded whole; a longer one is walked field by field
_CRC_CHUNK = 1 << 20  # bytes read at a time to check a long record's CRC
_MAX_TEXT = 64 << 10  # characters kept of one text summary or hparams string
_MAX_TEXTS = 256 << 10  # characters of text and hparams kept from one file in all
_MAX_TAG = 4096  # bytes of a tag read from a long record; a longer tag is no tag lrdoctor knows
_MAX_FIELDS = 1 << 16  # fields of one message walked; an Event has a handful, a Summary one per value

# Wire bytes of the fast layout (field number << 3 | wire type).
_WALL_TIME = 0x09  # Event.wall_time, fixed64
_STEP = 0x10  # Event.step, varint
_FILE_VERSION = 0x1A  # Event.file_version, length-delimited
_SUMMARY = 0x2A  # Event.summary, length-delimited
_VALUE = 0x0A  # Summary.value, length-delimited
_TAG = 0x0A  # Summary.Value.tag, length-delimited
_SIMPLE_VALUE = 0x15  # Summary.Value.simple_value, fixed32


@dataclass
class EventData:
    """What one event file holds. ``scalars`` maps tag -> (steps int64, values float64)
    in file order; ``scalar_tags`` lists every scalar tag seen, wanted or not."""

    scalars: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    scalar_tags: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    hparams: dict[str, object] = field(default_factory=dict)
    notes: list[ReadNote] = field(default_factory=list)
    end_offset: int = 0


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_event_file(path: Path, want: re.Pattern[str] | None = None, start: int = 0) -> EventData:
    """Read records from byte offset ``start`` (which must be a record boundary,
    e.g. a previous ``end_offset``).

    Only scalars whose tag ``want.fullmatch``-es are materialised (None: all);
    every scalar tag is still listed in ``scalar_tags``. Raises OSError when the
    file cannot be opened or read, or is no regular file (a FIFO would block, a link
    into /proc may never end): it is checked on the open file, opened without blocking.
    """
    reader = _Reader(str(path), want)
    with os.fdopen(open_regular(path), "rb") as handle:
        handle.seek(start)
        reader.consume(handle, start)
    return reader.result()


def appended(old: EventData, new: EventData) -> EventData:
    """``old`` followed by ``new``, read from ``old.end_offset`` of the same file.

    A note at or after the old end (the incomplete record a live writer had not
    finished, a bad length) was about bytes the new read has looked at again, so
    it is dropped."""
    scalars = dict(old.scalars)
    for tag, (steps, values) in new.scalars.items():
        if tag in scalars:
            steps = np.concatenate([scalars[tag][0], steps])
            values = np.concatenate([scalars[tag][1], values])
        scalars[tag] = (steps, values)
    texts = dict(old.texts)
    room = _MAX_TEXTS - sum(map(len, texts.values()))
    for tag, text in new.texts.items():  # each read kept its own budget: together they keep no more
        if tag in texts or len(text) <= room:
            room -= len(text) - len(texts.get(tag, ""))
            texts[tag] = text
    return EventData(
        scalars=scalars,
        scalar_tags=old.scalar_tags | new.scalar_tags,
        texts=texts,
        hparams={**old.hparams, **new.hparams},
        notes=[n for n in old.notes if n.offset is None or n.offset < old.end_offset] + new.notes,
        end_offset=new.end_offset,
    )


class _Reader:
    """Accumulates decoded columns across read blocks of one file."""

    def __init__(self, path: str, want: re.Pattern[str] | None) -> None:
        self.path = path
        self.want = want
        self.data = EventData()
        self.pieces: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.tag_cache: dict[bytes, str | None] = {}
        self.kept_tags: dict[str, bool] = {}  # what ``want`` said of each tag (``_wanted``)
        self.bad_records = 0
        self.records = 0  # ordinal of the next record, to merge fast and slow paths in file order
        self.kept_text = 0  # characters of text summaries and hparams kept so far
        self.text_refused = False  # whether a text was dropped for the file's budget (noted once)

    def consume(self, handle, offset: int) -> None:
        pending = b""
        need = 0
        while True:
            # A record longer than what the file still holds cannot complete now, so
            # it is not read at all: a hostile length field never becomes a big read.
            remaining = max(0, os.fstat(handle.fileno()).st_size - handle.tell())
            if need > _MAX_DECODED_RECORD and need - len(pending) <= remaining:
                # whole, and too long to read: walked on disk (its length CRC was checked)
                self._long_record(handle.fileno(), offset, need - _RECORD_OVERHEAD)
                offset += need
                handle.seek(offset)
                pending, need = b"", 0
                continue
            block = handle.read(max(_BLOCK, need - len(pending))) if need - len(pending) <= remaining else b""
            buf = pending + block if pending else block
            consumed, stop = self._process(buf, offset)
            offset += consumed
            pending = buf[consumed:]
            if stop:
                break
            if not block:
                if pending:
                    self.data.notes.append(ReadNote(self.path, _incomplete(pending), offset))
                break
            need = _pending_need(pending)
        self.data.end_offset = offset

    def result(self) -> EventData:
        for tag, pieces in self.pieces.items():
            order = np.concatenate([p[0] for p in pieces])
            steps = np.concatenate([p[1] for p in pieces])
            values = np.concatenate([p[2] for p in pieces])
            if len(order) > 1 and not bool(np.all(order[1:] > order[:-1])):
                sort = np.argsort(order, kind="stable")
                steps, values = steps[sort], values[sort]
            self.data.scalars[tag] = (steps, values)
        self.data.notes.sort(key=lambda note: (note.offset is None, note.offset or 0))
        if self.bad_records > _MAX_NOTED_RECORDS:
            self.data.notes.append(
                ReadNote(self.path, f"{self.bad_records - _MAX_NOTED_RECORDS} more corrupt records skipped", None)
            )
        return self.data

    def _note_bad_record(self, offset: int, message: str) -> None:
        self.bad_records += 1
        if self.bad_records <= _MAX_NOTED_RECORDS:
            self.data.notes.append(ReadNote(self.path, message, offset))

    def _process(self, buf: bytes, base: int) -> tuple[int, bool]:
        """Frame, check and decode the whole records at the start of ``buf`` (which
        starts at file offset ``base``). Returns the bytes consumed and whether
        reading must stop."""
        block = _Block(buf)
        starts, consumed, runs = _frame(block)
        # Periodic runs' lengths were confirmed when framed: only their length CRCs are left,
        # one strided read per slot. The other records are checked by gathers.
        walked = np.ones(len(starts), dtype=bool)
        corrupt = []
        for run in runs:
            walked[run.index : run.index + run.periods * len(run.sizes)] = False
            corrupt.append(_first_bad_run_length(block, run))
        rest = starts[walked]
        for first in range(0, max(len(rest), 1), _WINDOW):  # a window at a time: temporaries stay small
            tail = int(rest[first + _WINDOW]) if first + _WINDOW < len(rest) else consumed
            corrupt.append(_first_bad_length(block, rest[first : first + _WINDOW], tail))
            if corrupt[-1] is not None:
                break
        corrupt_at = min((at for at in corrupt if at is not None), default=None)
        if corrupt_at is not None:
            self.data.notes.append(
                ReadNote(self.path, "corrupt record length (CRC mismatch); rest of file skipped", base + corrupt_at)
            )
            starts = starts[starts < corrupt_at]
            consumed = corrupt_at
        if len(starts):
            ordinals = np.arange(self.records, self.records + len(starts), dtype=np.int64)
            self.records += len(starts)
            rest = self._decode_runs(block, starts, ordinals, runs, base)
            starts, ordinals = starts[rest], ordinals[rest]
            for first in range(0, len(starts), _WINDOW):
                self._decode(block, starts[first : first + _WINDOW], ordinals[first : first + _WINDOW], base)
        return consumed, corrupt_at is not None

    def _decode_runs(
        self, block: _Block, starts: np.ndarray, ordinals: np.ndarray, runs: list[_Run], base: int
    ) -> np.ndarray:
        """Decode periodic runs, a chunk of periods at a time; returns which records are left."""
        rest = np.ones(len(starts), dtype=bool)
        bad: list[np.ndarray] = []
        for run in runs:
            width = len(run.sizes)
            periods = min(run.periods, (len(starts) - run.index) // width)
            stride = sum(run.sizes)
            for first in range(0, periods, _MAX_RUN_PERIODS):  # a chunk at a time: its bytes stay in cache
                count = min(_MAX_RUN_PERIODS, periods - first)
                slots = _decode_run(block, run.start + first * stride, run.sizes, count)
                for slot, decoded in enumerate(slots):
                    tag = None if decoded is None else self._tag(decoded[0])
                    if tag is None:
                        continue
                    _, crc_ok, steps, values = decoded
                    rows = run.index + width * first + slot + width * np.arange(count)
                    rest[rows] = False
                    bad.append(starts[rows[~crc_ok]])
                    self.data.scalar_tags.add(tag)
                    if self._wanted(tag):
                        self.pieces.setdefault(tag, []).append((ordinals[rows[crc_ok]], steps[crc_ok], values[crc_ok]))
        for start in np.sort(np.concatenate(bad)) if bad else ():
            self._note_bad_record(base + int(start), "corrupt record (CRC mismatch); record skipped")
        return rest

    def _decode(self, block: _Block, starts: np.ndarray, ordinals: np.ndarray, base: int) -> None:
        if not len(starts):
            return
        if len(starts) <= _FEW_RECORDS:
            self._decode_each(block.buf, starts.tolist(), ordinals.tolist(), base)
            return
        buf = block.buf
        payload_starts = starts + 12
        payload_ends = payload_starts + block.u64(starts).astype(np.int64)
        good = _payload_crc_ok(block, payload_starts, payload_ends)
        for index in np.flatnonzero(~good):
            self._note_bad_record(base + int(starts[index]), "corrupt record (CRC mismatch); record skipped")
        fast, steps, tag_starts, tag_lengths = _fast_layout(block, payload_starts, payload_ends)
        fast &= good
        slow = good & ~fast
        slow[fast] = ~self._decode_fast(block, ordinals[fast], steps[fast], tag_starts[fast], tag_lengths[fast])
        collected: dict[str, tuple[list[int], list[int], list[float]]] = {}
        for index in np.flatnonzero(slow):
            begin, end = int(payload_starts[index]), int(payload_ends[index])
            self._decode_other(buf, begin, end, base + int(starts[index]), int(ordinals[index]), collected)
        self._keep(collected)

    def _decode_each(self, buf: bytes, starts: list[int], ordinals: list[int], base: int) -> None:
        """A few records (those before a file's first period, or after a change of layout), one
        at a time, with the same checks and the same results as ``_decode``'s columns: for a
        few dozen records, its numpy calls per tag cost more than the records do."""
        good = []
        for start, ordinal in zip(starts, ordinals):  # CRCs first, so the notes come as _decode's do
            begin = start + _HEADER.size
            end = begin + _LENGTH.unpack_from(buf, start)[0]
            if masked_crc(buf[begin:end]) == int.from_bytes(buf[end : end + 4], "little"):
                good.append((start, ordinal, begin, end))
            else:
                self._note_bad_record(base + start, "corrupt record (CRC mismatch); record skipped")
        collected: dict[str, tuple[list[int], list[int], list[float]]] = {}
        for start, ordinal, begin, end in good:
            payload = buf[begin:end]
            layout = _scalar_layout(payload)
            tag = None if layout is None else self._tag(payload[layout[1] + 6 : layout[1] + 6 + layout[2]])
            if tag is None:
                self._decode_other(buf, begin, end, base + start, ordinal, collected)
                continue
            step_length, summary, tag_length = layout
            step = sum((payload[10 + index] & 0x7F) << (7 * index) for index in range(step_length))
            (value,) = _FLOAT.unpack_from(payload, summary + 7 + tag_length)
            self._scalar(tag, step - (1 << 64) if step >= 1 << 63 else step, value, ordinal, collected)
        self._keep(collected)

    def _decode_other(self, buf: bytes, begin: int, end: int, offset: int, ordinal: int, collected) -> None:
        """A record that is not a plain scalar: protobuf decodes it, or a long one is walked."""
        if end == begin or _only_file_version(buf, begin, end):
            return  # nothing in it to keep (and protobuf takes its import to say so)
        if end - begin > _MAX_DECODED_RECORD:
            self._walk(lambda at, size: buf[at : at + size], begin, end, offset, ordinal, collected)
        else:
            self._decode_slow(buf[begin:end], offset, ordinal, collected)

    def _keep(self, collected: dict[str, tuple[list[int], list[int], list[float]]]) -> None:
        """Scalars decoded one record at a time, as pieces of their tags' columns."""
        for tag, (order, tag_steps, values) in collected.items():
            self.pieces.setdefault(tag, []).append(
                (
                    np.asarray(order, dtype=np.int64),
                    np.asarray(tag_steps, dtype=np.int64),
                    np.asarray(values, dtype=np.float64),
                )
            )

    def _decode_fast(
        self, block: _Block, ordinals: np.ndarray, steps: np.ndarray, tag_starts: np.ndarray, tag_lengths: np.ndarray
    ) -> np.ndarray:
        """Decode the records that matched the scalar layout; returns which were
        decoded (a tag that is not valid UTF-8 is left to protobuf to reject)."""
        decoded = np.zeros(len(ordinals), dtype=bool)
        if not len(ordinals):
            return decoded
        values = block.u32(tag_starts + tag_lengths + 1).view("<f4").astype(np.float64)
        for length in np.flatnonzero(np.bincount(tag_lengths)):  # np.unique would import numpy.ma
            members = np.flatnonzero(tag_lengths == length)
            for raw, group in _group_by_bytes(block, tag_starts[members], int(length)):
                tag = self._tag(raw)
                if tag is None:
                    continue
                rows = members[group]
                decoded[rows] = True
                self.data.scalar_tags.add(tag)
                if self._wanted(tag):
                    self.pieces.setdefault(tag, []).append((ordinals[rows], steps[rows], values[rows]))
        return decoded

    def _wanted(self, tag: str) -> bool:
        """Whether ``want`` keeps ``tag``, asked once per tag: a file repeats its few tags in
        every record, and the records read one at a time each asked the regex again."""
        kept = self.kept_tags.get(tag)
        if kept is None:
            kept = self.kept_tags[tag] = self.want is None or self.want.fullmatch(tag) is not None
        return kept

    def _tag(self, raw: bytes) -> str | None:
        if raw not in self.tag_cache:
            try:
                self.tag_cache[raw] = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.tag_cache[raw] = None
        return self.tag_cache[raw]

    def _decode_slow(self, payload: bytes, offset: int, ordinal: int, collected) -> None:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2

        try:
            self._collect(event_pb2.Event.FromString(payload), ordinal, offset, collected)
        except DecodeError:
            self._note_bad_record(offset, "record is not a valid Event (CRC correct); record skipped")

    def _collect(self, event, ordinal: int, offset: int, collected) -> None:
        if not event.HasField("summary"):
            return
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            kind = value.WhichOneof("value")
            if plugin == "hparams":
                for name, setting in _hparams(value.metadata.plugin_data.content).items():
                    self._keep_hparam(name, setting, offset)
            elif plugin == "text" and kind == "tensor":
                strings = value.tensor.string_val
                self._keep_text(value.tag, _text(strings), sum(map(len, strings)), offset)
            elif kind == "simple_value" or (kind == "tensor" and plugin in ("scalars", "")):
                number = value.simple_value if kind == "simple_value" else _tensor_scalar(value.tensor)
                if number is not None:
                    self._scalar(value.tag, event.step, number, ordinal, collected)

    def _scalar(self, tag: str, step: int, number: float, ordinal: int, collected) -> None:
        self.data.scalar_tags.add(tag)
        if self._wanted(tag):
            order, steps, values = collected.setdefault(tag, ([], [], []))
            order.append(ordinal)
            steps.append(step)
            values.append(number)

    def _keep_text(self, tag: str, text: str, size: int, offset: int, cut: bool = False) -> None:
        """A text summary, cut to _MAX_TEXT characters (``cut``: it was cut while it was read), within
        the file's _MAX_TEXTS; ``size`` is the bytes it held, for the note."""
        if cut or len(text) > _MAX_TEXT:
            text = text[:_MAX_TEXT]
            message = f"text summary {display(tag)} cut to its first {_MAX_TEXT:,} characters (it holds {size:,} bytes)"
            self.data.notes.append(ReadNote(self.path, message, offset))
        if self._room_for(len(text), offset):
            self.data.texts[tag] = text

    def _keep_hparam(self, name: str, value: object, offset: int) -> None:
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            message = f"hparam {display(name)} cut to its first {_MAX_TEXT:,} characters (of {len(value):,})"
            self.data.notes.append(ReadNote(self.path, message, offset))
            value = value[:_MAX_TEXT]
        if self._room_for(len(name) + len(str(value)), offset):
            self.data.hparams[name] = value

    def _room_for(self, characters: int, offset: int) -> bool:
        """Whether the file's text budget has room for this much more, noting (once) when it has not."""
        if self.kept_text + characters <= _MAX_TEXTS:
            self.kept_text += characters
            return True
        if not self.text_refused:
            self.text_refused = True
            message = f"text summaries and hparams past {_MAX_TEXTS:,} characters in this file not kept"
            self.data.notes.append(ReadNote(self.path, message, offset))
        return False

    def _long_record(self, fd: int, offset: int, length: int) -> None:
        """A whole record too long to read into memory: its CRC checked in chunks, then walked on disk."""
        begin = offset + _HEADER.size
        crc, at = 0, begin
        while at < begin + length:
            chunk = os.pread(fd, min(_CRC_CHUNK, begin + length - at), at)
            if not chunk:
                break  # cut short meanwhile: the CRC cannot match
            crc = crc32c(chunk, crc)
            at += len(chunk)
        stored = os.pread(fd, 4, begin + length)
        ordinal = self.records
        self.records += 1
        masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        if at < begin + length or len(stored) < 4 or masked != int.from_bytes(stored, "little"):
            self._note_bad_record(offset, "corrupt record (CRC mismatch); record skipped")
            return
        collected: dict[str, tuple[list[int], list[int], list[float]]] = {}
        self._walk(lambda at, size: os.pread(fd, size, at), begin, begin + length, offset, ordinal, collected)
        self._keep(collected)

    def _walk(self, read, begin: int, end: int, offset: int, ordinal: int, collected) -> None:
        """An Event's fields read where they lie (``read(at, size)``): simple-value scalars and the
        first _MAX_TEXT characters of text summaries; long fields (images, graphs, hparams) are
        passed by. Nothing of it is kept unless all of it could be read, as with protobuf."""
        try:
            fields = list(_fields(read, begin, end - begin))
            step = next((value for number, wire, value in fields if number == 2 and wire == 0), 0)
            step = step - (1 << 64) if step >= 1 << 63 else step  # int64, two's complement
            found = [
                _summary_value(read, *value)
                for summary in (value for number, wire, value in fields if number == 5 and wire == 2)
                for field, kind, value in _fields(read, *summary)
                if field == 1 and kind == 2
            ]
        except (_NotAnEvent, UnicodeDecodeError):  # what protobuf would refuse to decode
            self._note_bad_record(offset, "record is not a valid Event (CRC correct); record skipped")
            return
        for kind, tag, content in filter(None, found):
            if kind == "text":
                text, held, cut = content
                self._keep_text(tag, text, held, offset, cut=cut)
            elif kind == "hparams":
                message = f"hparams record of {content:,} bytes not read (over {_MAX_DECODED_RECORD:,})"
                self.data.notes.append(ReadNote(self.path, message, offset))
            else:
                self._scalar(tag, step, content, ordinal, collected)


def _summary_value(read, at: int, size: int) -> tuple[str, str, object] | None:
    """One Summary.Value of a long record (tag 1, simple_value 2, tensor 8 with its string_val 8,
    metadata 9 with the plugin name) as ("scalar", tag, number), ("text", tag, (first characters,
    bytes it holds, whether it was cut)) or ("hparams", tag, bytes); None for anything else."""
    tag, number, plugin, strings = "", None, "", []  # proto3 leaves an empty tag unwritten
    for field_number, kind, value in _fields(read, at, size):
        if field_number == 1 and kind == 2:
            tag = read(*value).decode("utf-8") if value[1] <= _MAX_TAG else None  # a string: UTF-8
        elif field_number == 2 and kind == 5:
            (number,) = struct.unpack("<f", value)
        elif field_number == 8 and kind == 2:
            strings = [v for f, k, v in _fields(read, *value) if f == 8 and k == 2]
        elif field_number == 9 and kind == 2:
            plugin = _plugin_name(read, *value)
    if tag is None:
        return None
    if plugin == "text" and strings:
        parts, left = [], 4 * _MAX_TEXT  # bytes enough for _MAX_TEXT characters of UTF-8
        for start, length in strings:
            parts.append(read(start, min(length, left)).decode("utf-8", "replace"))
            left -= min(length, left)
        held = sum(length for _, length in strings)
        return "text", tag, ("\n".join(parts), held, held > 4 * _MAX_TEXT - left)
    if plugin == "hparams":
        return "hparams", tag, size
    return ("scalar", tag, float(number)) if number is not None else None


def _incomplete(pending: bytes) -> str:
    message = f"incomplete last record: {len(pending)} bytes skipped (file still being written?)"
    if len(pending) >= _HEADER.size:
        message += f"; its length field says {_pending_need(pending)} bytes"
    return message


def _pending_need(pending: bytes) -> int:
    """Bytes the record at the start of ``pending`` needs in total (its header
    CRC was checked by the caller when the header is complete)."""
    if len(pending) < _HEADER.size:
        return _HEADER.size
    (length,) = _LENGTH.unpack_from(pending, 0)
    return length + _RECORD_OVERHEAD


def _frame(block: _Block) -> tuple[np.ndarray, int, list[_Run]]:
    """Start offsets of the whole records at the start of the block, where the first
    incomplete one begins, and the periodic runs found. Lengths are not yet
    trusted (see _first_bad_length).

    Framing is a chain (each start is the previous start plus its size), so it is
    walked in Python, except that writers log the same tags in the same order every
    step: once the last record sizes repeat with a period, the following starts are
    predicted for many periods at once and each prediction is confirmed by the
    length field actually stored there. The accepted prefix is exactly the chain.
    """
    buf, size = block.buf, block.size
    pieces: list[np.ndarray] = []
    runs: list[_Run] = []
    framed = 0  # records in pieces
    walked: list[int] = []
    history: list[int] = []  # sizes of the latest records, for period detection
    pos = 0
    periods = _FIRST_PERIODS
    wait = 0  # records to walk before trying to predict again
    unpack = _LENGTH.unpack_from
    while pos + _HEADER.size <= size:
        if wait <= 0 and len(history) >= 8:
            pattern = _period(history)
            if pattern:
                first = pos
                starts, pos, complete = _predict(block, pos, pattern, periods)
                if len(starts):
                    pieces.append(np.asarray(walked, dtype=np.int64))
                    framed += len(walked)
                    walked = []
                    if len(starts) // len(pattern) >= _MIN_RUN_PERIODS:
                        _add_run(runs, _Run(framed, first, tuple(pattern), len(starts) // len(pattern)))
                    pieces.append(starts)
                    framed += len(starts)
                    taken = np.diff(np.append(starts[-64:], pos)).tolist()
                    history = (history + taken)[-64:]
                periods = min(periods * 2, _MAX_RUN_PERIODS) if complete else _FIRST_PERIODS
                # after a change of layout (a step's varint grew a byte), as soon as the new
                # sizes could have repeated twice
                wait = 0 if complete else 2 * len(pattern)
                if complete:
                    continue
            else:
                wait = 32
        (length,) = unpack(buf, pos)
        end = pos + _RECORD_OVERHEAD + length
        if end > size:
            break
        walked.append(pos)
        history.append(end - pos)
        if len(history) > 128:
            del history[:-64]
        wait -= 1
        pos = end
    pieces.append(np.asarray(walked, dtype=np.int64))
    return np.concatenate(pieces), pos, runs


@dataclass(frozen=True)
class _Run:
    """``periods`` repetitions of records of ``sizes`` from byte ``start``; its first
    record is number ``index`` of the block."""

    index: int
    start: int
    sizes: tuple[int, ...]
    periods: int


def _add_run(runs: list[_Run], run: _Run) -> None:
    """Append ``run``, or extend the last run when ``run`` continues it (same sizes, from
    where it ended): predictions come in doubling chunks, and one long run is decoded with
    a few numpy calls per slot where twenty short ones would take twenty times as many."""
    last = runs[-1] if runs else None
    if last is not None and last.sizes == run.sizes and last.start + last.periods * sum(last.sizes) == run.start:
        runs[-1] = _Run(last.index, last.start, last.sizes, last.periods + run.periods)
    else:
        runs.append(run)


def _period(history: list[int]) -> list[int] | None:
    """The shortest pattern of record sizes that the latest records repeat: twice over, and
    over at least the last 16 (a prediction is confirmed record by record anyway, so the
    records before a change of layout, or a file's first record, need not repeat it)."""
    window = history[-64:]
    for period in range(1, len(window) // 2 + 1):
        span = window[-max(2 * period, 16) :]
        if span[period:] == span[:-period]:
            return window[-period:]
    return None


def _predict(block: _Block, pos: int, pattern: list[int], periods: int):
    """Predict starts by repeating ``pattern`` from ``pos``; keep the prefix whose
    stored lengths confirm it. Returns (starts, next position, all confirmed)."""
    sizes = np.asarray(pattern, dtype=np.int64)
    period_size = int(sizes.sum())
    periods = min(periods, (block.size - pos) // period_size)
    if periods <= 0:
        return np.empty(0, dtype=np.int64), pos, False
    within = np.concatenate(([0], np.cumsum(sizes[:-1])))
    starts = (pos + np.arange(periods, dtype=np.int64)[:, None] * period_size + within).ravel()
    lengths, expected = _lengths_of(tuple(pattern))
    confirmed = np.ndarray((periods,), lengths, block.buf, pos) == expected  # one call for every slot
    if confirmed.all():
        return starts, pos + periods * period_size, True
    period = int(np.argmin(confirmed))
    at = pos + period * period_size
    stored = [_LENGTH.unpack_from(block.buf, at + offset)[0] for offset in within.tolist()]
    slot = next(slot for slot, size in enumerate(pattern) if stored[slot] != size - _RECORD_OVERHEAD)
    first_wrong = period * len(pattern) + slot
    return starts[:first_wrong], int(starts[first_wrong]), False


@lru_cache(maxsize=256)
def _lengths_of(pattern: tuple[int, ...]) -> tuple[np.dtype, np.void]:
    """A period of ``pattern`` as a numpy record of its records' length fields, and the
    lengths it must hold: one comparison confirms a whole period."""
    offsets = [0, *accumulate(pattern[:-1])]
    names = [f"length{slot}" for slot in range(len(pattern))]
    formats = ["<u8"] * len(pattern)
    lengths = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": sum(pattern)})
    return lengths, np.array([tuple(size - _RECORD_OVERHEAD for size in pattern)], dtype=lengths)[0]


_EIGHT = np.arange(8)


class _Block:
    """A block of the file and fast reads of little-endian numbers at any offsets in it."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.size = len(buf)
        self.view = np.frombuffer(buf, dtype=np.uint8)

    @cached_property
    def words(self) -> np.ndarray:
        """Aligned 64-bit words (zero-padded), so an unaligned read is two gathers and a
        shift instead of eight byte gathers; built only for a block with many such reads."""
        words = np.zeros(self.size // 8 + 2, dtype="<u8")
        words.view(np.uint8)[: self.size] = self.view
        return words

    def u8(self, offsets: np.ndarray) -> np.ndarray:
        """Bytes at ``offsets``; offsets past the end read the last byte (callers
        only trust rows whose positions prove to be inside their record)."""
        return self.view[np.minimum(offsets, self.size - 1)]

    def u64(self, offsets: np.ndarray) -> np.ndarray:
        """The 8 bytes at each offset; ``offset + 8`` must be within the block (``u32`` reads
        the last 4 bytes of a block too: what lies past the end is not used)."""
        if len(offsets) < self.size >> 9:  # few reads: eight byte gathers each, no copy of the block
            at = np.minimum(offsets[:, None] + _EIGHT, self.size - 1)
            return np.ascontiguousarray(self.view[at]).view("<u8").reshape(len(offsets))
        index = offsets >> 3
        shift = ((offsets & 7) << 3).astype(np.uint64)
        low, high = self.words[index], self.words[index + 1]
        joined = (low >> shift) | (high << (np.uint64(64) - shift))
        return np.where(shift == 0, low, joined)

    def u32(self, offsets: np.ndarray) -> np.ndarray:
        return (self.u64(offsets) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _first_bad_length(block: _Block, starts: np.ndarray, tail: int) -> int | None:
    """Offset of the first record whose length CRC fails, including the header of
    the incomplete record at ``tail``; None when every length is intact."""
    if block.size - tail >= _HEADER.size:
        starts = np.append(starts, tail)
    if not len(starts):
        return None
    lengths = block.u64(starts)
    stored = block.u32(starts + 8)
    if int(lengths.max()) < 1 << 16:
        # Few distinct lengths: one CRC per distinct length, looked up per record.
        distinct = np.flatnonzero(np.bincount(lengths.astype(np.int64)))
        table = np.zeros(int(distinct[-1]) + 1, dtype=np.uint32)
        table[distinct] = [masked_crc(_LENGTH.pack(int(n))) for n in distinct]
        expected = table[lengths.astype(np.int64)]
    else:
        distinct, inverse = np.unique(lengths, return_inverse=True)
        expected = np.array([masked_crc(_LENGTH.pack(int(n))) for n in distinct], dtype=np.uint32)[inverse]
    wrong = np.flatnonzero(expected != stored)
    return int(starts[wrong[0]]) if len(wrong) else None


def _first_bad_run_length(block: _Block, run: _Run) -> int | None:
    """Offset of the first record of a periodic run whose length CRC fails; None when all
    hold. Every length in the run equals its slot's size (``_predict`` confirmed them), so
    each slot has one expected CRC, compared with a strided view of the stored ones."""
    stride = sum(run.sizes)
    first_bad = None
    offset = run.start
    for size in run.sizes:
        expected = masked_crc(_LENGTH.pack(size - _RECORD_OVERHEAD))
        stored = np.ndarray((run.periods,), "<u4", block.buf, offset + _LENGTH.size, (stride,))
        wrong = np.flatnonzero(stored != expected)
        if len(wrong):
            at = offset + int(wrong[0]) * stride
            first_bad = at if first_bad is None else min(first_bad, at)
        offset += size
    return first_bad


def _payload_crc_ok(block: _Block, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    payloads = map(block.buf.__getitem__, map(slice, starts.tolist(), ends.tolist()))
    raw = np.fromiter(map(crc32c, payloads), dtype=np.uint32, count=len(starts))
    masked = ((raw >> np.uint32(15)) | (raw << np.uint32(17))) + np.uint32(0xA282EAD8)
    return masked == block.u32(ends)


def _fast_layout(block: _Block, starts: np.ndarray, ends: np.ndarray):
    """Which payloads are exactly ``Event{wall_time, [step], summary{value{tag,
    simple_value}}}`` with one-byte lengths, and their steps and tag positions.

    Every structural byte is checked and the nested lengths must fill the payload
    exactly, so a match uses only bytes inside the payload and decodes to what
    protobuf would decode. Columns of non-matching rows are meaningless.
    """
    at = block.u8
    ok = (ends - starts >= 20) & (at(starts) == _WALL_TIME)
    has_step = at(starts + 9) == _STEP
    steps = np.zeros(len(starts), dtype=np.uint64)
    step_length = np.zeros(len(starts), dtype=np.int64)
    reading = np.flatnonzero(has_step)
    for index in range(10):  # a varint has at most 10 bytes
        if not len(reading):
            break
        byte = at(starts[reading] + 10 + index).astype(np.uint64)
        if index == 9:
            # The 10th byte may only carry the top bit of a 64-bit value.
            ok[reading[byte > 1]] = False
        steps[reading] |= (byte & np.uint64(0x7F)) << np.uint64(7 * index)
        done = byte < 0x80
        step_length[reading[done]] = index + 1
        reading = reading[~done]
    ok[reading] = False
    summary = np.where(has_step, starts + 10 + step_length, starts + 9)
    summary_length = at(summary + 1).astype(np.int64)
    value_length = at(summary + 3).astype(np.int64)
    tag_length = at(summary + 5).astype(np.int64)
    ok &= (at(summary) == _SUMMARY) & (summary_length < 0x80) & (summary + 2 + summary_length == ends)
    ok &= (at(summary + 2) == _VALUE) & (value_length == summary_length - 2)
    ok &= (at(summary + 4) == _TAG) & (tag_length == value_length - 7)
    tag_starts = summary + 6
    ok &= at(tag_starts + tag_length) == _SIMPLE_VALUE
    return ok, steps.view(np.int64), tag_starts, tag_length


class _Slot(NamedTuple):
    """Where a scalar record's fields lie, from the start of its periodic run."""

    payload: int
    length: int  # of the payload
    step_length: int
    tag: int
    tag_length: int
    value: int
    crc: int  # the payload's stored CRC

    @staticmethod
    def of(buf: bytes, start: int, offset: int, size: int) -> _Slot | None:
        """The slot of the record at ``offset`` in the run, if its payload has the scalar layout."""
        payload, length = offset + _HEADER.size, size - _RECORD_OVERHEAD
        layout = _scalar_layout(buf[start + payload : start + payload + length])
        if layout is None:
            return None
        step_length, summary, tag_length = layout
        tag = payload + summary + 6
        return _Slot(payload, length, step_length, tag, tag_length, tag + tag_length + 1, payload + length)


def _decode_run(block: _Block, start: int, sizes: tuple[int, ...], periods: int) -> list:
    """Decode ``periods`` repetitions of records of ``sizes`` from ``start`` (a periodic
    run: each slot holds the same tag every time), all slots at once, where they lie.

    A slot's first payload must have the scalar layout, and across the slot only the
    bytes a scalar event may change (wall time, the step's varint digits, the value;
    and the payload CRC after it) may differ from it, so every payload parses the same
    way. CRCs follow from the first one (``_run_crcs``). Returns, per slot, (tag
    bytes, CRC ok, steps int64, values float64), or None to leave the slot to the
    general path. A few numpy calls serve every slot: a run of ten tags costs about what
    a run of one does.
    """
    stride = sum(sizes)
    records = np.ndarray((periods, stride), np.uint8, block.buf, start, (stride, 1))
    varying = np.logical_or.reduce(records != records[0], axis=0)
    may_vary = np.zeros(stride, dtype=bool)
    slots: list[_Slot | None] = []
    offset = 0
    for size in sizes:
        slot = _Slot.of(block.buf, start, offset, size)
        if slot is not None:
            may_vary[slot.payload + 1 : slot.payload + 9] = True  # wall time
            may_vary[slot.payload + 10 : slot.payload + 10 + slot.step_length] = True
            may_vary[slot.value : slot.value + 4] = True
            may_vary[slot.crc : slot.crc + 4] = True
        slots.append(slot)
        offset += size
    unexpected = np.logical_or.reduceat(varying & ~may_vary, np.cumsum((0, *sizes[:-1])))
    kept = {index: slot for index, slot in enumerate(slots) if slot is not None and not unexpected[index]}
    steps = _run_steps(records, kept)
    kept = {index: slot for index, slot in kept.items() if index in steps}
    if not kept:
        return [None] * len(sizes)
    crcs = _run_crcs(block.buf, start, records, varying, list(kept.values()))
    decoded: list = [None] * len(sizes)
    for row, (index, slot) in enumerate(kept.items()):
        at = start + slot.tag
        values = np.ndarray((periods,), "<f4", block.buf, start + slot.value, (stride,)).astype(np.float64)
        stored = np.ndarray((periods,), "<u4", block.buf, start + slot.crc, (stride,))
        decoded[index] = (block.buf[at : at + slot.tag_length], crcs[row] == stored, steps[index], values)
    return decoded


def _run_steps(records: np.ndarray, slots: dict[int, _Slot]) -> dict[int, np.ndarray]:
    """Each slot's steps (int64), for the slots whose step varints parse the same way in
    every record: the same continuation bits as the first record's, and a 10th byte that
    carries only the top bit. A slot without a step field has step 0 throughout."""
    periods = len(records)
    steps = {index: np.zeros(periods, dtype=np.int64) for index, slot in slots.items() if not slot.step_length}
    stepped = {index: slot for index, slot in slots.items() if slot.step_length}
    if not stepped:
        return steps
    lengths = [slot.step_length for slot in stepped.values()]
    # one row per digit, a record per column: each reduction runs along whole rows
    digits = records.T[[slot.payload + 10 + digit for slot in stepped.values() for digit in range(slot.step_length)]]
    bounds = np.cumsum([0, *lengths[:-1]])
    broken = np.logical_or.reduceat(((digits & 0x80) != (digits[:, :1] & 0x80)).any(axis=1), bounds)
    # each slot's digits in a grid of as many rows as the longest varint (zeros past its own):
    # a shift and an OR per digit for every slot at once (a reduceat over the rows is 10x slower)
    grid = np.zeros((len(lengths), max(lengths), periods), dtype=np.uint8)
    grid[np.repeat(np.arange(len(lengths)), lengths), [digit for length in lengths for digit in range(length)]] = (
        digits & 0x7F
    )
    joined = grid[:, 0].astype(np.uint64)
    for digit in range(1, grid.shape[1]):
        joined |= grid[:, digit].astype(np.uint64) << np.uint64(7 * digit)
    for row, (index, length) in enumerate(zip(stepped, lengths)):
        if not broken[row] and not (length == 10 and (digits[bounds[row] + 9] > 1).any()):
            steps[index] = joined[row].view(np.int64)
    return steps


def _run_crcs(buf: bytes, start: int, records: np.ndarray, varying: np.ndarray, slots: list[_Slot]) -> np.ndarray:
    """Each record's masked payload CRC, one row per slot, from its slot's first payload:
    CRC32C is affine, so a payload's CRC is the first one's XOR one table term per byte
    where it differs from it. One gather over all the bytes that vary, in every slot."""
    first = [crc32c(buf[start + slot.payload : start + slot.crc]) for slot in slots]
    crc = np.repeat(np.array(first, dtype=np.uint32)[:, None], len(records), axis=1)
    positions = [np.flatnonzero(varying[slot.payload : slot.crc]) for slot in slots]
    moving = [row for row, where in enumerate(positions) if len(where)]
    if moving:
        tables = _run_crc_tables(tuple((slots[row].length, tuple(positions[row].tolist())) for row in moving))
        varied = records.T[np.concatenate([slots[row].payload + positions[row] for row in moving])]
        # each byte's 256 terms are a row of the stacked tables: one flat gather (2x a 2-D one)
        terms = tables.ravel()[(varied ^ varied[:, :1]) + np.arange(0, 256 * len(varied), 256)[:, None]]
        bounds = np.cumsum([0, *(len(positions[row]) for row in moving)])[:-1]
        crc[moving] ^= np.bitwise_xor.reduceat(terms, bounds, axis=0)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


@lru_cache(maxsize=256)
def _run_crc_tables(layouts: tuple[tuple[int, tuple[int, ...]], ...]) -> np.ndarray:
    """The CRC32C tables of every varying byte of a run's slots, stacked: a sweep's runs
    share a handful of layouts, so each stack is built once."""
    return np.concatenate([_crc_tables(length, positions) for length, positions in layouts])


def _only_file_version(buf: bytes, begin: int, end: int) -> bool:
    """Whether the payload is exactly ``Event{wall_time, file_version}``, the record that opens
    every event file: nothing of it is kept, so it need not wait for protobuf to be imported.
    A file_version that is not UTF-8 is left to protobuf, which rejects it."""
    if end - begin < 11 or buf[begin] != _WALL_TIME or buf[begin + 9] != _FILE_VERSION:
        return False
    length = buf[begin + 10]
    if length >= 0x80 or end - begin != 11 + length:
        return False
    try:
        buf[begin + 11 : end].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _scalar_layout(payload: bytes) -> tuple[int, int, int] | None:
    """(step varint length, summary position, tag length) if ``payload`` has the
    layout _fast_layout accepts, else None. The same rules, for one payload."""
    try:
        if payload[0] != _WALL_TIME:
            return None
        step_length, summary = 0, 9
        if payload[9] == _STEP:
            while payload[10 + step_length] & 0x80:
                step_length += 1
                if step_length == 10:
                    return None
            step_length += 1
            if step_length == 10 and payload[19] > 1:
                return None
            summary = 10 + step_length
        summary_length, value_length, tag_length = payload[summary + 1], payload[summary + 3], payload[summary + 5]
        fits = (
            payload[summary] == _SUMMARY
            and summary_length < 0x80
            and summary + 2 + summary_length == len(payload)
            and payload[summary + 2] == _VALUE
            and value_length == summary_length - 2
            and payload[summary + 4] == _TAG
            and tag_length == value_length - 7
            and payload[summary + 6 + tag_length] == _SIMPLE_VALUE
        )
    except IndexError:
        return None
    return (step_length, summary, tag_length) if fits else None


@lru_cache(maxsize=256)
def _crc_tables(length: int, positions: tuple[int, ...]) -> np.ndarray:
    """The CRC32C tables of the bytes at ``positions`` of a ``length``-byte payload, stacked:
    a sweep's slots share a handful of layouts, so each stack is built once."""
    return np.stack([_crc_table(length - 1 - position) for position in positions])


@lru_cache(maxsize=None)
def _crc_table(distance: int) -> np.ndarray:
    """CRC32C's linear term of each byte value followed by ``distance`` bytes."""
    zeros = bytes(distance)
    base = crc32c(bytes(distance + 1))
    bits = np.array([crc32c(bytes([1 << bit]) + zeros) ^ base for bit in range(8)], dtype=np.uint32)
    chosen = (np.arange(256)[:, None] >> np.arange(8)) & 1
    return np.bitwise_xor.reduce(np.where(chosen == 1, bits, np.uint32(0)), axis=1).astype(np.uint32)


def _group_by_bytes(block: _Block, starts: np.ndarray, length: int):
    """Yield (bytes, row indices) for each distinct ``length``-byte string at ``starts``.

    Strings are read as 64-bit words and fingerprinted; the grouping is then
    confirmed word for word, and an exact sort is used if two strings collide.
    """
    if length == 0:
        yield b"", np.arange(len(starts))
        return
    count = -(-length // 8)
    words = np.empty((len(starts), count), dtype=np.uint64)
    for index in range(count):
        words[:, index] = block.u64(starts + 8 * index)
    words[:, -1] &= np.uint64((1 << (8 * (length - 8 * (count - 1)))) - 1)
    if count == 1:
        fingerprint = words[:, 0]
    else:
        fingerprint = (words * _MULTIPLIERS[:count]).sum(axis=1, dtype=np.uint64)
    ids, first_rows = _factorize(fingerprint)
    if count > 1 and not np.array_equal(words, words[first_rows][ids]):
        _, first_rows, ids = np.unique(words, axis=0, return_index=True, return_inverse=True)
        ids = ids.ravel()
    for group, row in enumerate(first_rows):
        start = int(starts[row])
        yield block.buf[start : start + length], np.flatnonzero(ids == group)


def _odd_constants(count: int, seed: int) -> np.ndarray:
    """``count`` fixed, odd, well-mixed 64-bit numbers (SplitMix64's outputs, low bit set): any
    such numbers fingerprint well, since a collision is confirmed word for word. Made here, not
    by numpy.random, whose import costs a reading process more than decoding a small run."""
    mask, state, made = (1 << 64) - 1, seed, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        mixed = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
        mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & mask
        made.append((mixed ^ (mixed >> 31)) | 1)
    return np.array(made, dtype=np.uint64)


_MULTIPLIERS = _odd_constants(16, seed=0x7E57)


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids and the first row of each group. A file holds few distinct tags,
    so scanning once per tag beats sorting; many tags fall back to a sort."""
    ids = np.full(len(keys), -1, dtype=np.int64)
    first_rows: list[int] = []
    remaining = np.arange(len(keys))
    while len(remaining) and len(first_rows) < _MAX_DISTINCT_SCAN:
        row = int(remaining[0])
        same = keys[remaining] == keys[row]
        ids[remaining[same]] = len(first_rows)
        first_rows.append(row)
        remaining = remaining[~same]
    if len(remaining):
        _, first, inverse = np.unique(keys[remaining], return_index=True, return_inverse=True)
        ids[remaining] = len(first_rows) + inverse.ravel()
        first_rows.extend(remaining[first].tolist())
    return ids, np.asarray(first_rows, dtype=np.int64)


# Tensor dtypes a scalar summary may use: DataType enum -> (repeated field, struct format).
_TENSOR_SCALAR_TYPES = {
    1: ("float_val", "<f"),  # DT_FLOAT
    2: ("double_val", "<d"),  # DT_DOUBLE
    3: ("int_val", "<i"),  # DT_INT32
    4: ("int_val", "<B"),  # DT_UINT8
    5: ("int_val", "<h"),  # DT_INT16
    6: ("int_val", "<b"),  # DT_INT8
    9: ("int64_val", "<q"),  # DT_INT64
    17: ("int_val", "<H"),  # DT_UINT16
    19: ("half_val", "<e"),  # DT_HALF: half_val holds the 16 bits
    22: ("uint32_val", "<I"),  # DT_UINT32
    23: ("uint64_val", "<Q"),  # DT_UINT64
}


def _tensor_scalar(tensor) -> float | None:
    """A TF2-style scalar summary: a 0-d tensor of a float or int type."""
    if tensor.tensor_shape.dim or tensor.dtype not in _TENSOR_SCALAR_TYPES:
        return None
    name, fmt = _TENSOR_SCALAR_TYPES[tensor.dtype]
    content = tensor.tensor_content
    if len(content) == struct.calcsize(fmt):
        return float(struct.unpack(fmt, content)[0])
    values = getattr(tensor, name)
    if not len(values):
        return None
    if tensor.dtype == 19:
        return float(struct.unpack("<e", struct.pack("<H", values[0] & 0xFFFF))[0])
    return float(values[0])


def _text(strings) -> str:
    return "\n".join(s.decode("utf-8", "replace") for s in strings)


class _NotAnEvent(Exception):
    """The bytes of a long record do not follow protobuf's wire format."""


def _fields(read, at: int, size: int):
    """(field number, wire type, value) of the protobuf message of ``size`` bytes at ``at``,
    read through ``read(at, size)``: varints as ints, fixed32/64 as their bytes, and a
    length-delimited field as its (offset, length), which is not read. More than _MAX_FIELDS
    fields is no Event: walking them would cost time and memory for nothing."""
    end = at + size
    for _ in range(_MAX_FIELDS):
        if at >= end:
            return
        key, at = _varint(read, at, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(read, at, end)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, at = read(at, width), at + width
        elif wire == 2:
            length, at = _varint(read, at, end)
            value, at = (at, length), at + length
        else:
            raise _NotAnEvent
        if at > end:
            raise _NotAnEvent
        yield number, wire, value
    if at < end:
        raise _NotAnEvent


def _varint(read, at: int, end: int) -> tuple[int, int]:
    value = 0
    for index, byte in enumerate(read(at, min(10, end - at))):
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, at + index + 1
    raise _NotAnEvent


def _plugin_name(read, at: int, size: int) -> str:
    """SummaryMetadata.plugin_data (1) .plugin_name (1), when it is short enough to be a name."""
    for field_number, kind, value in _fields(read, at, size):
        if field_number == 1 and kind == 2:
            for inner, _, (name_at, length) in ((f, k, v) for f, k, v in _fields(read, *value) if k == 2):
                if inner == 1 and length <= _MAX_TAG:
                    return read(name_at, length).decode("utf-8")
    return ""


def _hparams(content: bytes) -> dict[str, object]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if not data.HasField("session_start_info"):
        return {}
    out: dict[str, object] = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        out[name] = getattr(value, kind) if kind else None
    return out
