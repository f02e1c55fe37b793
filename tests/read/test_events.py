"""The event-file reader: exact numbers, CRC-checked, bounded on bad input.

Event files are written by tensorboardX's SummaryWriter (the bytes torch writes too)
with SB3 / CleanRL tag names; bad files are made by cutting or flipping their bytes.
"""

from __future__ import annotations

import math
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboardX import SummaryWriter

from lrdoctor.model import ReadNote
from lrdoctor.read.events import EventData, appended, masked_crc, read_event_file

SB3_TAGS = ("train/approx_kl", "train/entropy_loss", "train/learning_rate")


def write_run(directory: Path, steps: int = 30, tags=SB3_TAGS) -> Path:
    writer = SummaryWriter(str(directory))
    for i in range(steps):
        for k, tag in enumerate(tags):
            writer.add_scalar(tag, 0.001 * i + k, global_step=2048 * i)
    writer.close()
    (path,) = directory.glob("events.out.tfevents.*")
    return path


def record_offsets(data: bytes) -> list[int]:
    offsets, offset = [], 0
    while offset + 12 <= len(data):
        offsets.append(offset)
        offset += 16 + struct.unpack_from("<Q", data, offset)[0]
    return offsets


def test_reads_every_scalar_exactly(tmp_path):
    path = write_run(tmp_path)
    data = read_event_file(path)
    assert data.scalar_tags == set(SB3_TAGS)
    steps, values = data.scalars["train/entropy_loss"]
    assert steps.dtype == np.int64 and values.dtype == np.float64
    assert steps.tolist() == [2048 * i for i in range(30)]
    assert values.tolist() == [float(np.float32(0.001 * i + 1)) for i in range(30)]
    assert data.notes == [] and data.end_offset == path.stat().st_size


def test_want_selects_tags_but_lists_all(tmp_path):
    path = write_run(tmp_path)
    data = read_event_file(path, want=re.compile(r"train/approx_kl"))
    assert set(data.scalars) == {"train/approx_kl"}
    assert data.scalar_tags == set(SB3_TAGS)


def test_step_zero_negative_and_huge_steps(tmp_path, records_outside_runs):
    writer = SummaryWriter(str(tmp_path))
    steps = [0, 1, 127, 128, 2**21, 2**35, -5, 2**63 - 1]
    for step in steps:
        writer.add_scalar("charts/learning_rate", 1.0, global_step=step)
    writer.close()
    data = read_event_file(next(tmp_path.glob("events.*")))
    assert data.scalars["charts/learning_rate"][0].tolist() == steps


def test_nan_and_inf_are_kept(tmp_path, records_outside_runs):
    writer = SummaryWriter(str(tmp_path))
    for i, value in enumerate([1.0, math.nan, math.inf, -math.inf]):
        writer.add_scalar("losses/approx_kl", value, global_step=i)
    writer.close()
    _, values = read_event_file(next(tmp_path.glob("events.*"))).scalars["losses/approx_kl"]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == math.inf and values[3] == -math.inf


def test_long_and_unicode_tags_take_the_protobuf_path_alike(tmp_path, records_outside_runs):
    long_tag = "ray/tune/info/learner/default_policy/learner_stats/" + "x" * 150
    tags = (long_tag, "losses/entropy", "métriques/entropie")
    data = read_event_file(write_run(tmp_path, steps=5, tags=tags))
    for k, tag in enumerate(tags):
        assert data.scalars[tag][1].tolist() == [float(np.float32(0.001 * i + k)) for i in range(5)]


def test_truncated_tail_keeps_whole_records_and_notes_bytes_skipped(tmp_path):
    path = write_run(tmp_path)
    full = path.read_bytes()
    offsets = record_offsets(full)
    cut = offsets[40] + 20  # inside record 40
    path.write_bytes(full[:cut])
    data = read_event_file(path)
    assert data.end_offset == offsets[40]
    assert sum(len(s) for s, _ in data.scalars.values()) == 39  # record 0 is file_version
    (note,) = data.notes
    assert note.offset == offsets[40] and f"{cut - offsets[40]} bytes skipped" in note.message


def test_bad_payload_crc_skips_only_that_record(tmp_path, records_outside_runs):
    path = write_run(tmp_path)
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    data[offsets[5] + 12 + 20] ^= 0x40  # inside the payload of record 5 (a scalar)
    path.write_bytes(bytes(data))
    result = read_event_file(path)
    (note,) = result.notes
    assert note.offset == offsets[5] and "CRC" in note.message
    assert sum(len(s) for s, _ in result.scalars.values()) == 30 * 3 - 1
    assert result.end_offset == len(data)


def test_bad_length_crc_stops_reading(tmp_path):
    path = write_run(tmp_path)
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    data[offsets[7] + 9] ^= 0x01  # the length's CRC of record 7
    path.write_bytes(bytes(data))
    result = read_event_file(path)
    (note,) = result.notes
    assert note.offset == offsets[7] and "length" in note.message
    assert sum(len(s) for s, _ in result.scalars.values()) == 6
    assert result.end_offset == offsets[7]


def test_absurd_length_with_valid_crc_is_bounded(tmp_path):
    path = write_run(tmp_path, steps=3)
    header = struct.pack("<Q", 2**62)
    path.write_bytes(path.read_bytes() + header + struct.pack("<I", masked_crc(header)) + b"\0" * 100)
    result = read_event_file(path)
    assert sum(len(s) for s, _ in result.scalars.values()) == 9
    (note,) = result.notes
    assert "112 bytes skipped" in note.message


@pytest.mark.parametrize("content", [b"", b"\x00", b"\x01" * 11, bytes(range(256)) * 64])
def test_empty_tiny_and_random_files(tmp_path, content):
    path = tmp_path / "events.out.tfevents.0.bad"
    path.write_bytes(content)
    result = read_event_file(path)
    assert result.scalars == {} and result.end_offset == 0
    assert bool(result.notes) == bool(content)


def test_random_bytes_never_become_numbers(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "events.out.tfevents.0.random"
    for _ in range(20):
        path.write_bytes(rng.integers(0, 256, size=int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())
        result = read_event_file(path)
        assert result.scalars == {} and result.notes


def test_start_reads_only_the_appended_part(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for i in range(25):
        writer.add_scalar("train/approx_kl", 0.01 * i, global_step=i)
    writer.close()
    path = next(tmp_path.glob("events.*"))
    full = path.read_bytes()
    path.write_bytes(full[: record_offsets(full)[11]])  # file_version + steps 0..9: the file so far
    first = read_event_file(path)
    path.write_bytes(full)  # the writer appended steps 10..24
    rest = read_event_file(path, start=first.end_offset)
    assert first.scalars["train/approx_kl"][0].tolist() == list(range(10))
    assert rest.scalars["train/approx_kl"][0].tolist() == list(range(10, 25))
    assert rest.end_offset == len(full) and rest.notes == []


def test_tf2_tensor_scalars(tmp_path, records_outside_runs):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step, value in enumerate([0.5, 0.25, 0.125]):
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value])
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        value = summary_pb2.Summary.Value(tag="train/lr", tensor=tensor, metadata=metadata)
        summary = summary_pb2.Summary(value=[value])
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary))
    double = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_content=struct.pack("<d", 0.1))
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="train/lr", tensor=double)])
    writer.add_event(event_pb2.Event(step=3, wall_time=1.0, summary=summary))
    writer.close()
    data = read_event_file(next(tmp_path.glob("events.*")))
    assert data.scalars["train/lr"][0].tolist() == [0, 1, 2, 3]
    assert data.scalars["train/lr"][1].tolist() == [0.5, 0.25, 0.125, 0.1]


def test_fast_and_protobuf_records_of_one_tag_stay_in_file_order(tmp_path, records_outside_runs):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step in range(6):
        if step % 2:
            tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[step])
            value = summary_pb2.Summary.Value(tag="loss/entropy", tensor=tensor)
        else:
            value = summary_pb2.Summary.Value(tag="loss/entropy", simple_value=step)
        writer.add_event(event_pb2.Event(step=step, wall_time=2.5, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    steps, values = read_event_file(next(tmp_path.glob("events.*"))).scalars["loss/entropy"]
    assert steps.tolist() == list(range(6)) and values.tolist() == [float(s) for s in range(6)]


def test_hparams_live_in_a_subdirectory_written_by_add_hparams(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.add_hparams({"learning_rate": 3e-4, "policy": "MlpLstmPolicy", "n_steps": 128}, {"hparam/return": 1.0})
    writer.close()
    (path,) = [p for p in tmp_path.rglob("events.out.tfevents.*") if p.parent != tmp_path]
    data = read_event_file(path)
    assert data.hparams == {"learning_rate": 3e-4, "policy": "MlpLstmPolicy", "n_steps": 128.0}
    assert data.scalars["hparam/return"][1].tolist() == [1.0]


def test_cleanrl_hyperparameters_text(tmp_path):
    args = {"learning_rate": 0.00025, "anneal_lr": False}
    writer = SummaryWriter(str(tmp_path))
    table = "|param|value|\n|-|-|\n" + "\n".join(f"|{key}|{value}|" for key, value in args.items())
    writer.add_text("hyperparameters", table)
    writer.close()
    data = read_event_file(next(tmp_path.glob("events.*")))
    # tensorboardX and torch both append "/text_summary" to the tag.
    assert data.texts == {"hyperparameters/text_summary": table}


def test_many_distinct_tags_and_a_growing_varint(tmp_path, records_outside_runs):
    tags = [f"custom/metric_{k}" for k in range(80)]
    writer = SummaryWriter(str(tmp_path))
    for i in range(3):
        for k, tag in enumerate(tags):
            writer.add_scalar(tag, k + i, global_step=100 * i)
    for step in range(100, 140):  # step crosses the 1- to 2-byte varint boundary
        writer.add_scalar(tags[0], step, global_step=step)
    writer.close()
    data = read_event_file(next(tmp_path.glob("events.*")))
    assert len(data.scalars) == 80
    assert data.scalars["custom/metric_79"][1].tolist() == [79.0, 80.0, 81.0]
    assert data.scalars[tags[0]][0].tolist() == [0, 100, 200] + list(range(100, 140))


CORPUS = Path(__file__).resolve().parents[1] / "event_corpus"


@pytest.mark.parametrize(
    "case, points, message, offset",
    [
        ("truncated_tail", 9, "incomplete last record: 25 bytes skipped", 538),
        ("bad_payload_crc", 14, "corrupt record (CRC mismatch); record skipped", 254),
        ("bad_length_crc", 6, "corrupt record length (CRC mismatch); rest of file skipped", 369),
        ("absurd_length", 15, "incomplete last record: 112 bytes skipped", 876),
        ("garbage_after_records", 15, "corrupt record length", 876),
        ("crc_ok_not_an_event", 15, "record is not a valid Event", 200),
        ("random_bytes", 0, "corrupt record length", 0),
        ("empty", 0, None, None),
    ],
)
def test_crafted_corpus(records_outside_runs, case, points, message, offset):
    (path,) = (CORPUS / case).glob("events.out.tfevents.*")
    data = read_event_file(path)
    assert sum(len(s) for s, _ in data.scalars.values()) == points
    if message is None:
        assert data.notes == []
    else:
        (note,) = data.notes
        assert note.message.startswith(message) and note.offset == offset and note.path == str(path)


def reference_read(data: bytes) -> dict[str, list[tuple[int, float]]]:
    """The plain way: one record at a time, protobuf for every event."""
    from tensorboard.compat.proto import event_pb2

    points: dict[str, list[tuple[int, float]]] = {}
    offset = 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
        for value in event.summary.value:
            points.setdefault(value.tag, []).append((event.step, value.simple_value))
        offset += 16 + length
    return points


tags_strategy = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=130)


@pytest.fixture(params=["one at a time", "as columns"])
def records_outside_runs(request, monkeypatch):
    """Records outside periodic runs are decoded one at a time when few, as columns when many:
    both ways are tested on the same inputs."""
    import lrdoctor.read.events as events

    monkeypatch.setattr(events, "_FEW_RECORDS", 1 << 30 if request.param == "one at a time" else 0)
    return request.param


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["train/approx_kl", "x" * 119, "y" * 120, "z" * 121, ""]) | tags_strategy,
            st.integers(-(2**63), 2**63 - 1) | st.integers(0, 300),
            st.floats(width=32, allow_nan=False),
            st.sampled_from([0.0, 1718000000.5]),
        ),
        max_size=60,
    )
)
def test_fast_path_equals_protobuf_on_any_scalar_events(tmp_path, records_outside_runs, events):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    directory = tmp_path / str(len(list(tmp_path.iterdir())))
    writer = EventFileWriter(str(directory))
    for tag, step, value, wall_time in events:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(event_pb2.Event(step=step, wall_time=wall_time, summary=summary))
    writer.close()
    (path,) = directory.glob("events.*")
    data = read_event_file(path)
    expected = reference_read(path.read_bytes())
    assert data.notes == [] and set(data.scalars) == set(expected) == data.scalar_tags
    for tag, points in expected.items():
        steps, values = data.scalars[tag]
        assert list(zip(steps.tolist(), values.tolist())) == points


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flips=st.lists(st.tuples(st.integers(0, 875), st.integers(0, 7)), min_size=1, max_size=4),
    cut=st.integers(0, 876),
)
def test_damaged_files_never_yield_a_number_that_was_not_written(records_outside_runs, flips, cut):
    (path,) = (CORPUS / "absurd_length").glob("events.*")
    good = path.read_bytes()[:876]  # the undamaged records before the absurd header
    expected = {tag: set(points) for tag, points in reference_read(good).items()}
    data = bytearray(good)
    for position, bit in flips:
        data[position] ^= 1 << bit
    with tempfile.TemporaryDirectory() as directory:
        damaged = Path(directory) / "events.out.tfevents.0.damaged"
        damaged.write_bytes(bytes(data[:cut]))
        result = read_event_file(damaged)
    for tag, (steps, values) in result.scalars.items():
        assert set(zip(steps.tolist(), values.tolist())) <= expected[tag]
    assert result.end_offset <= cut


def periodic_run(directory: Path, steps: int, tags=SB3_TAGS) -> Path:
    """A long SB3-like file: the same tags in the same order every step, as the
    periodic fast path sees it."""
    writer = SummaryWriter(str(directory))
    for i in range(steps):
        for k, tag in enumerate(tags):
            writer.add_scalar(tag, 0.5 * i + k, global_step=2048 * (i + 1), walltime=1718000000.0 + i)
    writer.close()
    return next(directory.glob("events.*"))


@pytest.mark.parametrize("first, second", [(502, 507), (507, 502), (500, 880)])
def test_the_first_bad_length_of_a_periodic_run_stops_reading_whatever_its_slot(tmp_path, first, second):
    """Length CRCs of a periodic run are checked slot by slot: the earliest damaged record in
    the file is where reading stops, whichever slot comes first in the pattern."""
    path = periodic_run(tmp_path, 300)
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    for victim in (first, second):
        data[offsets[victim] + 9] ^= 0x01
    path.write_bytes(bytes(data))
    result = read_event_file(path)
    earliest = offsets[min(first, second)]
    assert [(note.message, note.offset) for note in result.notes] == [
        ("corrupt record length (CRC mismatch); rest of file skipped", earliest)
    ]
    expected = reference_read(bytes(data[:earliest]))
    assert set(result.scalars) == set(expected)
    for tag, points in expected.items():
        steps, values = result.scalars[tag]
        assert list(zip(steps.tolist(), values.tolist())) == points


@pytest.mark.parametrize("where", ["wall_time", "step", "value", "tag", "length_crc_of_a_later_record"])
def test_corruption_inside_a_periodic_run_is_caught(tmp_path, where):
    path = periodic_run(tmp_path, 300)
    data = bytearray(path.read_bytes())
    offsets = record_offsets(bytes(data))
    victim = offsets[500]
    payload = victim + 12
    position = {
        "wall_time": payload + 3,
        "step": payload + 10,
        "value": offsets[501] - 6,
        "tag": payload + 20,
        "length_crc_of_a_later_record": victim + 9,
    }[where]
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    result = read_event_file(path)
    (note,) = result.notes
    assert note.offset == victim
    expected = reference_read(bytes(data[:victim]) + bytes(data[offsets[501] :]))
    if where == "length_crc_of_a_later_record":
        expected = reference_read(bytes(data[:victim]))
    for tag, points in expected.items():
        steps, values = result.scalars[tag]
        assert list(zip(steps.tolist(), values.tolist())) == points


def test_periodic_sizes_with_changing_tags_are_decoded_by_tag(tmp_path):
    # Same record sizes every step, but the first slot's tag alternates irregularly.
    writer = SummaryWriter(str(tmp_path))
    rng = np.random.default_rng(1)
    for i in range(400):
        first = "train/kl_a" if rng.random() < 0.9 else "train/kl_b"
        for tag in (first, "train/entropy_loss"):
            writer.add_scalar(tag, i, global_step=1000 + i, walltime=1.0)
    writer.close()
    path = next(tmp_path.glob("events.*"))
    data = read_event_file(path)
    expected = reference_read(path.read_bytes())
    assert set(data.scalars) == set(expected)
    for tag, points in expected.items():
        assert list(zip(*(a.tolist() for a in data.scalars[tag]))) == points


def test_a_periodic_run_whose_text_slot_is_no_scalar_still_decodes_its_scalars(tmp_path, monkeypatch):
    """Two scalars around a text summary of the same size, every step: a periodic run over more
    periods than one chunk holds. Its scalar slots are decoded together, its text slot is left
    to protobuf, and every point is exactly the plain reading's."""
    import lrdoctor.read.events as events

    writer = SummaryWriter(str(tmp_path))
    for i in range(2100):
        step = 2048 * (i + 1)
        writer.add_scalar("train/approx_kl", 0.001 * i, global_step=step, walltime=1718000000.0 + i)
        writer.add_text("notes", "same", global_step=step, walltime=1718000000.0 + i)
        writer.add_scalar("train/entropy_loss", -0.5 * i, global_step=step, walltime=1718000000.0 + i)
    writer.close()
    path = next(tmp_path.glob("events.*"))
    decoded_slots = []
    decode_run = events._decode_run

    def spy(*args):
        slots = decode_run(*args)
        decoded_slots.append([slot is not None for slot in slots])
        return slots

    monkeypatch.setattr(events, "_decode_run", spy)
    data = read_event_file(path)
    assert any(any(slots) and not all(slots) for slots in decoded_slots)  # scalars decoded, the text not
    assert len(decoded_slots) >= 2  # more than one chunk of periods
    expected = reference_read(path.read_bytes())
    for tag in ("train/approx_kl", "train/entropy_loss"):
        assert list(zip(*(a.tolist() for a in data.scalars[tag]))) == expected[tag]
    assert set(data.texts.values()) == {"same"} and data.notes == []


@pytest.mark.parametrize("block", [13, 97, 1000])
def test_records_spanning_read_blocks(tmp_path, monkeypatch, block):
    import lrdoctor.read.events as events

    path = periodic_run(tmp_path, 120)
    whole = read_event_file(path)
    monkeypatch.setattr(events, "_BLOCK", block)
    pieces = read_event_file(path)
    assert pieces.end_offset == whole.end_offset and pieces.notes == []
    for tag, (steps, values) in whole.scalars.items():
        assert pieces.scalars[tag][0].tolist() == steps.tolist()
        assert pieces.scalars[tag][1].tolist() == values.tolist()


@pytest.mark.parametrize("change", ["shrinks", "grows"])
def test_file_changing_while_read_yields_a_consistent_prefix(tmp_path, monkeypatch, change):
    import lrdoctor.read.events as events

    path = periodic_run(tmp_path, 120)
    full = path.read_bytes()
    written = {tag: set(points) for tag, points in reference_read(full).items()}
    path.write_bytes(full[: len(full) // 2])
    original = events._Reader._process

    def process_then_change(self, buf, base):
        outcome = original(self, buf, base)
        path.write_bytes(full[: len(full) // 4] if change == "shrinks" else full)
        return outcome

    monkeypatch.setattr(events, "_BLOCK", 1000)
    monkeypatch.setattr(events._Reader, "_process", process_then_change)
    result = read_event_file(path)
    for tag, (steps, values) in result.scalars.items():
        points = list(zip(steps.tolist(), values.tolist()))
        assert set(points) <= written[tag] and points == sorted(points)
    assert result.end_offset <= len(full)


def test_appended_joins_two_reads_and_drops_the_notes_the_second_read_revisited():
    # synthetic EventData: two reads of one file, the first stopping at an incomplete record at byte 40
    steps = np.array([1, 2], dtype=np.int64), np.array([0.1, 0.2])
    old = EventData(
        scalars={"train/approx_kl": steps}, scalar_tags={"train/approx_kl"}, texts={"a": "x"},
        notes=[ReadNote("f", "corrupt record", 8), ReadNote("f", "incomplete record", 40)], end_offset=40,
    )
    new = EventData(
        scalars={"train/approx_kl": (np.array([3], dtype=np.int64), np.array([0.3])), "train/lr": steps},
        scalar_tags={"train/approx_kl", "train/lr"}, texts={"b": "y"}, end_offset=90,
    )
    joined = appended(old, new)
    assert joined.scalars["train/approx_kl"][0].tolist() == [1, 2, 3]
    assert joined.scalars["train/approx_kl"][1].tolist() == [0.1, 0.2, 0.3]
    assert set(joined.scalars) == joined.scalar_tags == {"train/approx_kl", "train/lr"}
    assert joined.texts == {"a": "x", "b": "y"}
    assert [note.offset for note in joined.notes] == [8]
    assert joined.end_offset == 90


@pytest.mark.parametrize("kind", ["fifo", "link into /proc"])
def test_a_file_that_is_no_regular_file_is_refused_without_blocking(tmp_path, kind):
    """The reader checks the open file itself (opened without blocking), whatever discovery said."""
    import os

    path = tmp_path / "events.out.tfevents.1.host"
    if kind == "fifo":
        os.mkfifo(path)  # a plain open() would wait for a writer for ever
        expected = "not a regular file"
    else:
        if not Path("/proc/self/status").exists():
            pytest.skip("needs /proc")
        path.symlink_to("/proc/self/status")
        expected = "is in /proc, a system directory"
    with pytest.raises(OSError, match=expected):
        read_event_file(path)


# --- long records and text: read within a bound ------------------------------------------


def record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


def long_event(step: int = 7) -> bytes:
    """An Event over the 1 MB decoded whole: a 2 MB image beside a scalar, as one summary."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    image = summary_pb2.Summary.Image(height=1, width=1, encoded_image_string=b"\0" * 2_000_000)
    summary = summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="images/frame", image=image),
        summary_pb2.Summary.Value(tag="train/approx_kl", simple_value=0.25),
    ])
    return event_pb2.Event(wall_time=1.0, step=step, summary=summary).SerializeToString()


@pytest.mark.parametrize("where", ["in the block", "on disk"])
def test_a_long_record_is_walked_not_decoded_whole(tmp_path, monkeypatch, where):
    """Its fields are read where they lie; the scalar in it is what protobuf would give."""
    import lrdoctor.read.events as events

    path = write_run(tmp_path, 3)
    with open(path, "ab") as out:
        out.write(record(long_event(-3)))  # int64 steps may be negative: two's complement
    if where == "on disk":
        monkeypatch.setattr(events, "_BLOCK", 4096)  # the record cannot be in a block: it is left on disk
    data = read_event_file(path)
    assert data.notes == [] and data.end_offset == path.stat().st_size
    steps, values = data.scalars["train/approx_kl"]
    assert steps.tolist()[-1] == -3 and values.tolist()[-1] == 0.25
    assert "images/frame" not in data.scalar_tags


@pytest.mark.parametrize("where", ["in the block", "on disk"])
def test_a_long_text_summary_is_cut_and_noted(tmp_path, monkeypatch, where):
    import lrdoctor.read.events as events

    text = "|param|value|\n|-|-|\n|policy|MlpLstmPolicy|\n" + "é" * 1_500_000
    writer = SummaryWriter(str(tmp_path))
    writer.add_text("hyperparameters", text)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    if where == "on disk":
        monkeypatch.setattr(events, "_BLOCK", 4096)
    data = read_event_file(path)
    kept = data.texts["hyperparameters/text_summary"]
    assert kept == text[:65_536]
    (note,) = data.notes
    size = len(text.encode())
    assert note.message == (
        f"text summary hyperparameters/text_summary cut to its first 65,536 characters (it holds {size:,} bytes)")


def test_text_of_one_file_is_kept_within_its_budget(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    for index in range(6):
        writer.add_text(f"notes/{index}", "x" * 60_000)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    data = read_event_file(path)
    assert sorted(data.texts) == [f"notes/{index}/text_summary" for index in range(4)]  # 4 x 60,000 < 262,144
    assert [note.message for note in data.notes] == [
        "text summaries and hparams past 262,144 characters in this file not kept"
    ]


def test_a_long_record_with_a_bad_crc_is_skipped(tmp_path, monkeypatch):
    import lrdoctor.read.events as events

    path = write_run(tmp_path, 3)
    damaged = bytearray(record(long_event()))
    damaged[1_000_000] ^= 0x01
    start = path.stat().st_size
    with open(path, "ab") as out:
        out.write(bytes(damaged))
    monkeypatch.setattr(events, "_BLOCK", 4096)
    data = read_event_file(path)
    assert [(n.message, n.offset) for n in data.notes] == [("corrupt record (CRC mismatch); record skipped", start)]
    assert len(data.scalars["train/approx_kl"][0]) == 3


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(tags_strategy, st.floats(width=32, allow_nan=False), st.booleans(), st.text(max_size=40)),
        max_size=8,
    ),
    step=st.integers(-(2**63), 2**63 - 1),
)
def test_walking_a_record_reads_what_protobuf_decodes(values, step):
    """The walk of a long record's fields and protobuf's decoding agree, on any event of scalar and
    text values (walked here whatever its length, through the same reader)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

    from lrdoctor.read.events import _Reader

    summary = summary_pb2.Summary()
    for tag, number, is_text, text in values:
        if is_text:
            tensor = tensor_pb2.TensorProto(dtype=7, string_val=[text.encode()])
            plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
            metadata = summary_pb2.SummaryMetadata(plugin_data=plugin)
            summary.value.add(tag=tag, tensor=tensor, metadata=metadata)
        else:
            summary.value.add(tag=tag, simple_value=number)
    payload = event_pb2.Event(step=step, wall_time=1.0, summary=summary).SerializeToString()
    decoded, walked = _Reader("decoded", None), _Reader("walked", None)
    by_protobuf: dict = {}
    by_walk: dict = {}
    decoded._decode_slow(payload, 0, 0, by_protobuf)
    walked._walk(lambda at, size: payload[at : at + size], 0, len(payload), 0, 0, by_walk)
    assert by_walk == by_protobuf
    assert walked.data.texts == decoded.data.texts and walked.data.notes == decoded.data.notes == []
