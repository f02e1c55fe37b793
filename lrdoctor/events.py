"""Read one TensorBoard event file: every scalar point, hparams and text summaries.

An event file is a sequence of TFRecords: uint64 length, masked CRC32C of the
length, the payload (an ``Event`` protobuf), masked CRC32C of the payload. A file
still being written ends in a partial record: everything before it is returned and
the rest is noted, so a live run reads as a consistent prefix.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import crc32c
import numpy as np

from lrdoctor.model import ReadNote

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


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
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_event_file(path: Path, want: re.Pattern[str] | None = None, start: int = 0) -> EventData:
    """Read records from byte offset ``start``.

    Only scalars whose tag ``want.fullmatch``-es are materialised (None: all);
    every scalar tag is still listed in ``scalar_tags``.
    """
    from tensorboard.compat.proto import event_pb2

    data = Path(path).read_bytes()
    result = EventData(end_offset=start)
    collected: dict[str, tuple[list[int], list[float]]] = {}
    offset = start
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            result.notes.append(_partial(path, offset, len(data)))
            break
        length, length_crc = _HEADER.unpack_from(data, offset)
        if masked_crc(data[offset : offset + 8]) != length_crc:
            result.notes.append(
                ReadNote(str(path), "corrupt record length (CRC mismatch); rest of file skipped", offset)
            )
            break
        body_start = offset + _HEADER.size
        body_end = body_start + length
        if body_end + _FOOTER.size > len(data):
            result.notes.append(_partial(path, offset, len(data)))
            break
        payload = data[body_start:body_end]
        (payload_crc,) = _FOOTER.unpack_from(data, body_end)
        next_offset = body_end + _FOOTER.size
        if masked_crc(payload) != payload_crc:
            result.notes.append(ReadNote(str(path), "corrupt record (CRC mismatch); record skipped", offset))
        else:
            _collect(event_pb2.Event.FromString(payload), want, collected, result)
        offset = next_offset
        result.end_offset = offset
    result.scalars = {
        tag: (np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
        for tag, (steps, values) in collected.items()
    }
    return result


def _partial(path: Path, offset: int, size: int) -> ReadNote:
    return ReadNote(
        str(path), f"incomplete last record: {size - offset} bytes skipped (file still being written?)", offset
    )


def _collect(event, want, collected, result: EventData) -> None:
    if not event.HasField("summary"):
        return
    for value in event.summary.value:
        plugin = value.metadata.plugin_data.plugin_name
        kind = value.WhichOneof("value")
        if plugin == "hparams":
            result.hparams.update(_hparams(value.metadata.plugin_data.content))
        elif plugin == "text" and kind == "tensor":
            result.texts[value.tag] = _text(value.tensor)
        elif kind == "simple_value" or (kind == "tensor" and plugin in ("scalars", "")):
            number = value.simple_value if kind == "simple_value" else _tensor_scalar(value.tensor)
            if number is None:
                continue
            result.scalar_tags.add(value.tag)
            if want is None or want.fullmatch(value.tag):
                steps, values = collected.setdefault(value.tag, ([], []))
                steps.append(event.step)
                values.append(number)


def _tensor_scalar(tensor) -> float | None:
    """A TF2-style scalar summary: a 0-d tensor of a float or int type."""
    if tensor.tensor_shape.dim:
        return None
    for name in ("float_val", "double_val", "int_val", "int64_val", "half_val"):
        values = getattr(tensor, name)
        if len(values):
            return float(values[0])
    content = tensor.tensor_content
    formats = {1: "<f", 2: "<d", 3: "<i", 9: "<q"}  # DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64
    fmt = formats.get(tensor.dtype)
    if fmt and len(content) == struct.calcsize(fmt):
        return float(struct.unpack(fmt, content)[0])
    return None


def _text(tensor) -> str:
    return "\n".join(s.decode("utf-8", "replace") for s in tensor.string_val)


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
