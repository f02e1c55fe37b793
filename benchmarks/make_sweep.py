"""Write a SYNTHETIC PPO sweep of TensorBoard event files, deterministically, for benchmarks.

The shape is the one issue 7 measured: 100 runs x 10 Stable-Baselines3 tags x 10,000
logging steps (10M scalar events, about 580 MB). Every file holds what torch's and
tensorboardX's SummaryWriter write for ``add_scalar``: a ``file_version`` event first,
then one Event per scalar (wall_time, step, summary{value{tag, simple_value}}).

Writing 10M events through tensorboardX takes minutes, so the same bytes are encoded
here directly; ``--self-check`` (also run by tests/test_differential.py) writes a small
run both ways and requires the files to be byte-identical and tbparse to read them alike.

The numbers are synthetic but shaped like the runs lrdoctor diagnoses: a quarter of
the runs are recurrent at a constant LR whose KL climbs past 0.02 and entropy rises;
the rest warm up and stay healthy.

    python benchmarks/make_sweep.py [OUT_DIR] [--scale 0.1] [--runs N] [--steps N]
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
from pathlib import Path

import crc32c
import numpy as np

TAGS = (
    "train/learning_rate",
    "train/approx_kl",
    "train/entropy_loss",
    "train/clip_fraction",
    "train/value_loss",
    "train/policy_gradient_loss",
    "train/explained_variance",
    "rollout/ep_rew_mean",
    "rollout/ep_len_mean",
    "time/fps",
)
RUNS = 100
STEPS = 10_000
STEP_STRIDE = 2048  # SB3 logs once per rollout of n_steps=2048 env steps
START_TIME = 1_718_000_000.0


def _masked_crc(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(number: int) -> bytes:
    number &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", _masked_crc(header)) + payload + struct.pack("<I", _masked_crc(payload))


def file_version_record(wall_time: float) -> bytes:
    version = b"brain.Event:2"
    return _record(b"\x09" + struct.pack("<d", wall_time) + b"\x1a" + _varint(len(version)) + version)


def scalar_record(tag: str, value: float, step: int, wall_time: float) -> bytes:
    """The bytes SummaryWriter.add_scalar(tag, value, step, walltime) appends."""
    name = tag.encode()
    item = b"\x0a" + _varint(len(name)) + name + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(item)) + item
    event = b"\x09" + struct.pack("<d", wall_time)
    if step:
        event += b"\x10" + _varint(step)
    return _record(event + b"\x2a" + _varint(len(summary)) + summary)


def run_series(run: int, steps: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps and per-tag values of one synthetic run (seeded by its index)."""
    rng = np.random.default_rng(run)
    step = STEP_STRIDE * np.arange(1, steps + 1, dtype=np.int64)
    progress = np.arange(steps) / max(steps - 1, 1)
    collapses = run % 4 == 0
    noise = lambda scale: rng.normal(0.0, scale, steps)  # noqa: E731
    if collapses:
        lr = np.full(steps, 3e-4)
        kl = 0.008 + 0.03 * progress + np.abs(noise(0.003))
        entropy = 0.9 + 0.6 * progress + noise(0.02)
        reward = 20 + 5 * np.sin(progress * 6) + noise(1.0)
    else:
        warm = np.clip(progress / 0.25, 0.0, 1.0)
        lr = 3e-4 * np.where(progress < 0.25, 0.1 + 0.9 * warm, 1.0 - 0.9 * (progress - 0.25) / 0.75)
        kl = 0.006 + 0.006 * np.exp(-3 * progress) + np.abs(noise(0.002))
        entropy = 1.4 - 0.8 * progress + noise(0.02)
        reward = 20 + 180 * progress + noise(3.0)
    values = {
        "train/learning_rate": lr,
        "train/approx_kl": kl,
        "train/entropy_loss": -entropy,
        "train/clip_fraction": np.clip(kl * 6 + noise(0.01), 0, 1),
        "train/value_loss": np.abs(50 * (1 - progress) + noise(2.0)),
        "train/policy_gradient_loss": noise(0.01) - 0.01,
        "train/explained_variance": np.clip(0.9 * progress + noise(0.05), -1, 1),
        "rollout/ep_rew_mean": reward,
        "rollout/ep_len_mean": 200 + noise(10.0),
        "time/fps": 1500 + noise(50.0),
    }
    return step, values


def write_run(path: Path, run: int, steps: int) -> None:
    step, values = run_series(run, steps)
    wall = START_TIME + run * 1e5
    records = [file_version_record(wall)]
    columns = [values[tag].astype(np.float32).tolist() for tag in TAGS]
    for i, s in enumerate(step.tolist()):
        t = wall + 1.0 + 0.5 * i
        for tag, column in zip(TAGS, columns):
            records.append(scalar_record(tag, column[i], s, t))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(records))


def run_path(out: Path, run: int) -> Path:
    kind = "RecurrentPPO" if run % 4 == 0 else "PPO"
    return out / f"{kind}_{run + 1}" / f"events.out.tfevents.{int(START_TIME)}.synthetic.{run}.0"


def write_sweep(out: Path, runs: int, steps: int) -> list[Path]:
    paths = []
    for run in range(runs):
        path = run_path(out, run)
        write_run(path, run, steps)
        paths.append(path)
    return paths


def write_with_tensorboardx(directory: Path, run: int, steps: int) -> Path:
    """The same run through tensorboardX's SummaryWriter, for the self-check."""
    from tensorboardX import SummaryWriter

    step, values = run_series(run, steps)
    wall = START_TIME + run * 1e5
    writer = SummaryWriter(str(directory), flush_secs=3600)
    for i, s in enumerate(step.tolist()):
        for tag in TAGS:
            writer.add_scalar(tag, float(np.float32(values[tag][i])), s, walltime=wall + 1.0 + 0.5 * i)
    writer.close()
    (written,) = directory.glob("events.out.tfevents.*")
    return written


def self_check(steps: int = 50) -> None:
    """Require byte-identity with tensorboardX (after its file_version record, whose
    wall time is the clock's) and identical tbparse output."""
    from tbparse import SummaryReader

    with tempfile.TemporaryDirectory() as tmp:
        ours = run_path(Path(tmp) / "ours", 0)
        write_run(ours, 0, steps)
        theirs = write_with_tensorboardx(Path(tmp) / "tensorboardx", 0, steps)
        skip_ours = len(file_version_record(0.0))
        ours_bytes, theirs_bytes = ours.read_bytes(), theirs.read_bytes()
        if ours_bytes[skip_ours:] != theirs_bytes[skip_ours:] or len(ours_bytes) != len(theirs_bytes):
            raise SystemExit("self-check failed: bytes differ from tensorboardX's")
        a = SummaryReader(str(ours)).scalars.sort_values(["tag", "step"]).reset_index(drop=True)
        b = SummaryReader(str(theirs)).scalars.sort_values(["tag", "step"]).reset_index(drop=True)
        if not a.equals(b) or len(a) != steps * len(TAGS):
            raise SystemExit("self-check failed: tbparse reads them differently")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(Path(__file__).parent / "data"), type=Path)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--steps", type=int, default=STEPS, help="logging steps per run (10 tags each)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the steps per run (0.1, 4, 16, ...)")
    parser.add_argument("--self-check", action="store_true", help="only compare against tensorboardX and exit")
    args = parser.parse_args(argv)
    if args.self_check:
        self_check()
        print("self-check passed: identical bytes to tensorboardX, identical tbparse output")
        return
    steps = max(1, round(args.steps * args.scale))
    paths = write_sweep(args.out, args.runs, steps)
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote SYNTHETIC sweep: {args.runs} runs x {len(TAGS)} tags x {steps} steps "
        f"= {args.runs * len(TAGS) * steps:,} scalar events, {size / 1e6:.0f} MB in {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
