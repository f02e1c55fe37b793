"""Test helper: write event files the way each RL library names and signs its tags.

Uses tensorboardX's SummaryWriter (the writer rl_games, Tune and skrl use), so the
files are real event files. The tag names below were transcribed from each
library's own source, independently of lrdoctor/tags.py, so a test that writes with
this module and reads with lrdoctor checks the table rather than echoing it.

API:
    write_run(logdir, library, steps, metrics, *, suffix="", hparams=None, hyperparameters=None) -> Path
        metrics: canonical names -> values (entropy as +H); the writer applies the
        library's tag names and signs. Returns the event file written.
    write_tags(logdir, steps, {tag: values}, *, suffix="") -> Path
        raw tags with tensorboardX, for anything the tables do not cover.
    write_tags_verbatim(logdir, steps, {tag: values}, *, suffix="") -> Path
        raw tags with tensorboard's writer, names kept as given (skrl's "Loss / Entropy loss").
    write_progress_csv(logdir, steps, metrics) -> Path      SB3's CSV logger
    truncate(path, nbytes) -> None                          cut the tail, as a live run's last record
    synthetic_collapse(n) -> (steps, metrics)               SYNTHETIC: the originating collapse
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

ENTROPY_SCALE = 0.01  # skrl's entropy_loss_scale / TorchRL's entropy_coef in these synthetic runs

# library -> canonical metric -> (tag, sign applied to +H / raw value)
TAGS: dict[str, dict[str, tuple[str, float]]] = {
    "sb3": {
        "lr": ("train/learning_rate", 1),
        "kl": ("train/approx_kl", 1),
        "entropy": ("train/entropy_loss", -1),  # logger.record("train/entropy_loss", -mean(entropy))
        "clip_fraction": ("train/clip_fraction", 1),
        "value_loss": ("train/value_loss", 1),
        "policy_loss": ("train/policy_gradient_loss", 1),
        "explained_variance": ("train/explained_variance", 1),
        "episode_return": ("rollout/ep_rew_mean", 1),
    },
    "cleanrl": {
        "lr": ("charts/learning_rate", 1),
        "kl": ("losses/approx_kl", 1),
        "entropy": ("losses/entropy", 1),
        "clip_fraction": ("losses/clipfrac", 1),
        "value_loss": ("losses/value_loss", 1),
        "policy_loss": ("losses/policy_loss", 1),
        "explained_variance": ("losses/explained_variance", 1),
        "episode_return": ("charts/episodic_return", 1),
    },
    "rllib_old": {
        "lr": ("ray/tune/info/learner/default_policy/learner_stats/cur_lr", 1),
        "kl": ("ray/tune/info/learner/default_policy/learner_stats/kl", 1),
        "entropy": ("ray/tune/info/learner/default_policy/learner_stats/entropy", 1),
        "value_loss": ("ray/tune/info/learner/default_policy/learner_stats/vf_loss", 1),
        "policy_loss": ("ray/tune/info/learner/default_policy/learner_stats/policy_loss", 1),
        "episode_return": ("ray/tune/episode_reward_mean", 1),
    },
    "rllib_new": {
        "lr": ("ray/tune/learners/default_policy/default_optimizer_learning_rate", 1),
        "kl": ("ray/tune/learners/default_policy/mean_kl_loss", 1),
        "entropy": ("ray/tune/learners/default_policy/entropy", 1),
        "value_loss": ("ray/tune/learners/default_policy/vf_loss", 1),
        "explained_variance": ("ray/tune/learners/default_policy/vf_explained_var", 1),
        "episode_return": ("ray/tune/env_runners/episode_return_mean", 1),
    },
    "sample_factory": {
        "lr": ("train/lr", 1),
        "kl": ("train/kl_divergence", 1),
        "entropy": ("train/entropy", 1),
        "clip_fraction": ("train/fraction_clipped", 1),
        "value_loss": ("train/value_loss", 1),
        "policy_loss": ("train/policy_loss", 1),
        "episode_return": ("reward/reward", 1),
    },
    "rl_games": {
        "lr": ("info/last_lr", 1),
        "kl": ("info/kl", 1),
        "entropy": ("losses/entropy", 1),
        "value_loss": ("losses/c_loss", 1),
        "policy_loss": ("losses/a_loss", 1),
        "episode_return": ("rewards/step", 1),
    },
    "skrl": {
        "lr": ("Learning / Learning rate", 1),
        "entropy": ("Loss / Entropy loss", -ENTROPY_SCALE),  # -entropy_loss_scale * H
        "value_loss": ("Loss / Value loss", 1),
        "policy_loss": ("Loss / Policy loss", 1),
        "episode_return": ("Reward / Total reward (mean)", 1),
    },
    "tianshou": {
        "entropy": ("update/ent_loss/mean", 1),  # dist.entropy().mean(), +H despite the name
        "value_loss": ("update/vf_loss/mean", 1),
        "policy_loss": ("update/clip_loss/mean", 1),
    },
    "torchrl": {
        "lr": ("train/lr", 1),
        "kl": ("train/kl_approx", 1),
        "entropy": ("train/loss_entropy", -ENTROPY_SCALE),  # -entropy_coef * H
        "value_loss": ("train/loss_critic", 1),
        "policy_loss": ("train/loss_objective", 1),
        "episode_return": ("train/reward", 1),
    },
    "npp_rl": {
        "lr": ("training/learning_rate", 1),
        "kl": ("training/approx_kl", 1),
        "entropy": ("loss/entropy", -1),  # mirrors SB3's train/entropy_loss
        "clip_fraction": ("training/clip_fraction", 1),
        "success_rate": ("episode/success_rate", 1),
    },
}
TAGS["recurrent_ppo"] = TAGS["sb3"]  # sb3-contrib logs through SB3's logger with the same keys

# rl_games also logs rewards per epoch and per second: other step axes, same values
_RL_GAMES_EXTRA = ("rewards/iter", "rewards/time")


def write_run(
    logdir: Path,
    library: str,
    steps: Sequence[int],
    metrics: Mapping[str, Sequence[float]],
    *,
    suffix: str = "",
    hparams: Mapping[str, object] | None = None,
    hyperparameters: Mapping[str, object] | None = None,
) -> Path:
    """Write canonical ``metrics`` (entropy as +H) under ``library``'s tag names and signs.

    ``hparams`` goes to the hparams plugin; ``hyperparameters`` to CleanRL's text table.
    """
    table = TAGS[library]
    tags = {}
    for metric, values in metrics.items():
        tag, sign = table[metric]
        tags[tag] = np.asarray(values, dtype=np.float64) * sign
    if library == "rl_games" and "episode_return" in metrics:
        for tag in _RL_GAMES_EXTRA:
            tags[tag] = np.asarray(metrics["episode_return"], dtype=np.float64)
    if library.startswith("rllib"):
        tags["ray/tune/timesteps_total"] = np.asarray(steps, dtype=np.float64)
    # skrl writes through torch's SummaryWriter, which keeps "Loss / Entropy loss" as is;
    # tensorboardX would rewrite the spaces, so its files are written with tensorboard's writer
    if library == "skrl":
        return write_tags_verbatim(logdir, steps, tags, suffix=suffix)
    return write_tags(logdir, steps, tags, suffix=suffix, hparams=hparams, hyperparameters=hyperparameters)


def write_tags_verbatim(logdir: Path, steps: Sequence[int], tags: Mapping[str, Sequence[float]], *, suffix: str = "") -> Path:
    """Write raw ``tags`` with tensorboard's own event writer, tag names unchanged
    (tensorboardX replaces characters such as spaces and parentheses with "_")."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    before = set(logdir.glob("events.out.tfevents.*"))
    writer = EventFileWriter(str(logdir), filename_suffix=suffix)
    for index, step in enumerate(steps):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=float(v[index])) for tag, v in tags.items()]
        writer.add_event(event_pb2.Event(step=int(step), summary=summary_pb2.Summary(value=values)))
    writer.close()
    (written,) = set(logdir.glob("events.out.tfevents.*")) - before
    return written


def write_tags(
    logdir: Path,
    steps: Sequence[int],
    tags: Mapping[str, Sequence[float]],
    *,
    suffix: str = "",
    hparams: Mapping[str, object] | None = None,
    hyperparameters: Mapping[str, object] | None = None,
) -> Path:
    """Write raw ``tags`` at ``steps`` with tensorboardX; returns the event file."""
    from tensorboardX import SummaryWriter

    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    before = set(logdir.glob("events.out.tfevents.*"))
    writer = SummaryWriter(str(logdir), filename_suffix=suffix)
    if hyperparameters is not None:
        table = "\n".join(f"|{key}|{value}|" for key, value in hyperparameters.items())
        writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
    for index, step in enumerate(steps):
        for tag, values in tags.items():
            writer.add_scalar(tag, float(values[index]), int(step))
    if hparams is not None:  # as Tune's TBX logger does: the three hparams summaries in this file
        from tensorboardX.summary import hparams as hparams_summaries

        for summary in hparams_summaries(dict(hparams), {}):
            writer.file_writer.add_summary(summary)
    writer.close()
    (written,) = set(logdir.glob("events.out.tfevents.*")) - before
    return written


def write_progress_csv(logdir: Path, steps: Sequence[int], metrics: Mapping[str, Sequence[float]]) -> Path:
    """SB3's CSV logger: one row per dump, keys as columns, time/total_timesteps the step.
    Every other row leaves the train/ keys blank, as SB3 does for its first rollout dump."""
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    table = TAGS["sb3"]
    columns = ["time/total_timesteps", *(table[m][0] for m in metrics)]
    path = logdir / "progress.csv"
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(columns)
        for index, step in enumerate(steps):
            row = [str(int(step))]
            for metric, values in metrics.items():
                tag, sign = table[metric]
                blank = index == 0 and tag.startswith("train/")
                row.append("" if blank else repr(float(values[index]) * sign))
            out.writerow(row)
    return path


def truncate(path: Path, nbytes: int) -> None:
    """Cut the last ``nbytes`` of a file: a record half-written by a live run."""
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size - nbytes)


def synthetic_collapse(n: int = 200, total: int = 4_000_000) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """SYNTHETIC data shaped like the originating case: constant LR 3e-4 from step 0,
    approx KL climbing to 0.0334 (threshold 0.02), entropy rising, return flat, over ~4M steps."""
    steps = np.linspace(total / n, total, n).astype(np.int64)
    progress = np.linspace(0.0, 1.0, n)
    return steps, {
        "lr": np.full(n, 3e-4),
        "kl": 0.005 + (0.0334 - 0.005) * progress**1.5,
        "entropy": 1.2 + 0.4 * progress,
        "clip_fraction": 0.05 + 0.25 * progress,
        "episode_return": np.full(n, 10.0),
    }


# ---------------------------------------------------------------- W&B transaction logs (SYNTHETIC)
# Framed as wandb-core's leveldb writer frames them (32 KiB blocks, IEEE CRC-32 of type + data),
# records encoded by hand with the field numbers of wandb_internal.proto. The real files in
# tests/real_sinks pin the reader; this writer only makes shapes no real run there has.


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _pb_field(number: int, payload: bytes) -> bytes:
    return _pb_varint(number << 3 | 2) + _pb_varint(len(payload)) + payload


def wandb_history(row: Mapping[str, float], step: int) -> bytes:
    """A Record{history{item{key, value_json}..., step{num}}}."""
    import json

    items = b"".join(_pb_field(1, _pb_field(1, key.encode()) + _pb_field(16, json.dumps(value).encode()))
                     for key, value in row.items())
    return _pb_field(2, items + _pb_field(2, _pb_varint(1 << 3) + _pb_varint(step)))


def wandb_config(config: Mapping[str, object]) -> bytes:
    """A Record{config{update{key, value_json}...}}."""
    import json

    updates = b"".join(_pb_field(1, _pb_field(1, key.encode()) + _pb_field(16, json.dumps(value).encode()))
                       for key, value in config.items())
    return _pb_field(5, updates)


def wandb_log(records: Sequence[bytes]) -> bytes:
    """The bytes of a .wandb file holding ``records``, chunked across 32 KiB blocks."""
    import struct
    import zlib

    out = bytearray(b":W&B" + struct.pack("<HB", 0xBEE1, 0))
    for record in records:
        first = True
        while True:
            left = 32768 - len(out) % 32768
            if left < 7:
                out += b"\0" * left
                continue
            piece, record = record[: left - 7], record[left - 7:]
            kind = (1 if not record else 2) if first else (4 if not record else 3)
            out += struct.pack("<IHB", zlib.crc32(bytes([kind]) + piece), len(piece), kind) + piece
            first = False
            if not record:
                break
    return bytes(out)
