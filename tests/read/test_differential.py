"""The fast reader and tbparse agree on every (tag, step, value) of every event file.

Covers every ``events.out.tfevents.*`` under tests/ and sample_logs/ (globbed when the
tests are collected, so files added later are covered too) and files written here by
tensorboardX / tensorboard's writer: SB3 tags, a truncated live file, TF2 tensor
scalars, the synthetic benchmark sweep. tbparse reads simple_value scalars into
``.scalars`` and TF2 tensor scalars into ``.tensors``; both are compared. Where a
record fails its CRC, tbparse stops reading while lrdoctor skips the one record, so
they are compared on the part before it.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script
from tbparse import SummaryReader
from tensorboardX import SummaryWriter

from lrdoctor.read.events import read_event_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

ROOT = Path(__file__).resolve().parents[2]
REPO_FILES = sorted(
    path
    for folder in ("tests", "sample_logs")
    for path in (ROOT / folder).glob("**/events.out.tfevents.*")
    if path.is_file()
)


def tbparse_points(path: Path) -> Counter[tuple[str, int, float]]:
    reader = SummaryReader(str(path))
    points: Counter[tuple[str, int, float]] = Counter()
    for frame in (reader.scalars, reader.tensors):
        if frame.empty:
            continue
        for tag, step, value in zip(frame["tag"], frame["step"], frame["value"]):
            if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
                points[(tag, int(step), _canonical(float(value)))] += 1
    return points


def fast_points(path: Path) -> Counter[tuple[str, int, float]]:
    data = read_event_file(path)
    return Counter(
        (tag, int(step), _canonical(float(value)))
        for tag, (steps, values) in data.scalars.items()
        for step, value in zip(steps.tolist(), values.tolist())
    )


def _canonical(value: float) -> float | str:
    return "nan" if math.isnan(value) else value


def divergence(path: Path) -> int | None:
    """Where tbparse stops behaving like a reader: a record lrdoctor skips (bad CRC,
    not an Event) makes tbparse stop or raise, and a length field far beyond the
    file makes it try to allocate that much. Both are compared before that offset."""
    data = read_event_file(path)
    cuts = [n.offset for n in data.notes if "record skipped" in n.message]
    tail = [n.offset for n in data.notes if n.message.startswith("incomplete last record")]
    raw = path.read_bytes()
    for offset in tail:
        if len(raw) - offset >= 8 and struct.unpack_from("<Q", raw, offset)[0] > 1 << 20:
            cuts.append(offset)
    return min(cuts) if cuts else None


def assert_agree(path: Path, tmp_path: Path) -> int:
    """Compare both readers on ``path``; returns how many points agreed."""
    cut = divergence(path)
    if cut is not None:
        prefix = tmp_path / "prefix" / path.name
        prefix.parent.mkdir(exist_ok=True)
        prefix.write_bytes(path.read_bytes()[:cut])
        path = prefix
    ours, theirs = fast_points(path), tbparse_points(path)
    # Counted, not only collected: a real logger may write one point twice (rsl_rl does), and
    # each reader must give it as often as the file holds it.
    assert ours.total() == sum(len(s) for s, _ in read_event_file(path).scalars.values())
    only_ours, only_theirs = sorted(ours - theirs, key=repr)[:5], sorted(theirs - ours, key=repr)[:5]
    assert ours == theirs, f"{path}: only lrdoctor {only_ours}, only tbparse {only_theirs}"
    return ours.total()


@pytest.mark.parametrize("path", REPO_FILES, ids=[str(p.relative_to(ROOT)) for p in REPO_FILES])
def test_repository_event_files(path, tmp_path):
    assert_agree(path, tmp_path)


def _sb3_run(directory: Path, steps: int = 200) -> Path:
    writer = SummaryWriter(str(directory))
    rng = np.random.default_rng(3)
    tags = ("train/approx_kl", "train/entropy_loss", "train/learning_rate", "rollout/ep_rew_mean", "time/fps")
    for i in range(steps):
        for tag in tags:
            value = float(rng.normal()) if i % 37 else math.nan
            writer.add_scalar(tag, value, global_step=2048 * i)
    writer.close()
    return next(directory.glob("events.out.tfevents.*"))


def test_sb3_style_run(tmp_path):
    assert assert_agree(_sb3_run(tmp_path / "run"), tmp_path) == 200 * 5


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_live_file(tmp_path, keep):
    path = _sb3_run(tmp_path / "run")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert read_event_file(path).notes
    assert assert_agree(path, tmp_path) > 0


def test_corrupt_record_compared_before_it(tmp_path):
    path = _sb3_run(tmp_path / "run")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    assert_agree(path, tmp_path)


def test_tf2_tensor_scalars_and_mixed_layouts(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path / "run"))
    plugin = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    for step in range(50):
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[0.1 * step])
        double = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, tensor_content=struct.pack("<d", 0.3 * step))
        values = [
            summary_pb2.Summary.Value(tag="learner/kl", tensor=tensor, metadata=plugin),
            summary_pb2.Summary.Value(tag="learner/lr", tensor=double, metadata=plugin),
        ]
        writer.add_event(event_pb2.Event(step=step, wall_time=100.0 + step, summary=summary_pb2.Summary(value=values)))
        simple = summary_pb2.Summary.Value(tag="train/entropy", simple_value=-0.5 * step)
        writer.add_event(event_pb2.Event(step=step, wall_time=100.0, summary=summary_pb2.Summary(value=[simple])))
    writer.close()
    path = next((tmp_path / "run").glob("events.out.tfevents.*"))
    assert set(read_event_file(path).scalars) == {"learner/kl", "learner/lr", "train/entropy"}
    assert assert_agree(path, tmp_path) == 150


def _make_sweep():
    return load_script(ROOT / "benchmarks" / "make_sweep.py")


def test_benchmark_sweep_matches_tensorboardx_and_tbparse(tmp_path):
    make_sweep = _make_sweep()
    make_sweep.self_check(steps=20)  # byte-identical to tensorboardX, same tbparse output
    (path,) = make_sweep.write_sweep(tmp_path / "sweep", runs=1, steps=300)
    assert assert_agree(path, tmp_path) == 300 * len(make_sweep.TAGS)
