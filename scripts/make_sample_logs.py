"""Write the two SYNTHETIC sample runs under sample_logs/ (deterministic).

Both runs imitate what the npp-rl trainer (SB3 PPO on N++, 8 envs x 2048 steps per
rollout) writes to TensorBoard; no network was trained to make them.

- ``graph_free_gru_constant_lr``: the originating failure. A "graph_free" policy whose
  feature extractor (behaviour-cloned, with a GRU) gets fresh policy/value heads and a
  constant LR of 3e-4 from step 0, because the trainer gave warmup only to "attention"
  and "mamba". Approx KL climbs over 0.02 near 1.9M steps and stays over, peaking at
  exactly 0.0334 (67% over); entropy rises; return and success rate fall; the run is
  stopped at 4.67M steps.
- ``graph_free_gru_recommended``: the same architecture on lrdoctor's recommended
  schedule (base 1e-4, 20M steps), healthy throughout.

Tags are the ones the real code writes: SB3's own (``train/*``, ``rollout/*``,
``time/fps``) and the mirrors npp-rl's EnhancedTensorBoardCallback adds through the
same writer (``training/*``, ``loss/*``, ``episode/*``). npp-rl's ``loss/entropy`` is a
copy of SB3's ``train/entropy_loss``, so both hold -H.

Values are float32, as TensorBoard's ``simple_value`` stores them. The random stream is
numpy's frozen legacy ``RandomState`` and the wall times are derived from the steps, so
re-running writes byte-identical files on the same platform.

Usage: python scripts/make_sample_logs.py [OUT_DIR]   (default: sample_logs/)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import RecordWriter
from tensorboardX.summary import scalar

from lrdoctor.schedule import Schedule

SEED = 20240611
ROLLOUT_STEPS = 2048 * 8  # n_steps x n_envs: one PPO update per 16,384 env steps
START_WALL_TIME = 1_718_000_000.0  # fixed so the files are reproducible
KL_THRESHOLD = 0.02
KL_PEAK = 0.0334
CONSTANT_LR = 3e-4
CONSTANT_RUN = "graph_free_gru_constant_lr"
RECOMMENDED_RUN = "graph_free_gru_recommended"
EVENT_FILE_NAME = f"events.out.tfevents.{int(START_WALL_TIME)}.synthetic.0.0"


@dataclass(frozen=True)
class SyntheticRun:
    """One run: its name, the config that 'produced' it and its scalar series.

    ``series`` maps tag -> (steps, float32 values); ``wall_times`` gives the wall time
    of each logged step.
    """

    name: str
    config: dict
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    wall_times: dict[int, float]


# --- shared pieces -------------------------------------------------------------


def _correlated_noise(rng: np.random.RandomState, count: int, rho: float) -> np.ndarray:
    """Unit-variance AR(1) noise: consecutive PPO updates see overlapping episode windows."""
    shocks = rng.standard_normal(count)
    noise = np.empty(count)
    noise[0] = shocks[0]
    scale = np.sqrt(1.0 - rho * rho)
    for i in range(1, count):
        noise[i] = rho * noise[i - 1] + scale * shocks[i]
    return noise


def _curve(millions: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear trend through (million steps, value) knots."""
    xs, ys = zip(*knots)
    return np.interp(millions, xs, ys)


def _soft_ceiling(values: np.ndarray, knee: float, ceiling: float) -> np.ndarray:
    """Values above ``knee`` bend smoothly towards ``ceiling`` and never reach it, so a
    bound holds without the flat run of equal values a hard clip would leave."""
    room = ceiling - knee
    return np.where(values > knee, knee + room * np.tanh((values - knee) / room), values)


def _episode_mean_of_100(values: np.ndarray) -> np.ndarray:
    # npp-rl's success rate is the mean of the last 100 episodes: a multiple of 0.01.
    return np.clip(np.round(values, 2), 0.0, 1.0)


def _base_config(name: str) -> dict:
    return {
        "experiment_name": name,
        "synthetic": True,
        "description": "Synthetic sample written by scripts/make_sample_logs.py; no network was trained.",
        "environment": "npp",
        "algorithm": "PPO",
        "architecture": "graph_free",
        "rnn_type": "gru",
        "features_extractor": {
            "type": "graph_free",
            "recurrent": "gru",
            "rnn_hidden_size": 256,
            "pretrained": True,
        },
        "pretrained_checkpoint": "bc_graph_free_gru_epoch40.pt",
        "fresh_policy_value_heads": True,
        "freeze_feature_extractor": False,
        "num_envs": 8,
        "n_steps": 2048,
        "batch_size": 256,
        "n_epochs": 10,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
        "max_grad_norm": 1.0,
        "target_kl": KL_THRESHOLD,
        "total_timesteps": 20_000_000,
        "seed": 42,
    }


def _ppo_series(
    steps: np.ndarray,
    lr: np.ndarray,
    kl: np.ndarray,
    entropy: np.ndarray,
    ep_return: np.ndarray,
    success: np.ndarray,
    ep_length: np.ndarray,
    explained_variance: np.ndarray,
    value_loss: np.ndarray,
    rng: np.random.RandomState,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The tags SB3 PPO and npp-rl's callback write, from the underlying trends.

    SB3 records ``train/*`` in train() and dumps them with the *next* rollout's stats,
    so training values start one dump after the rollout values; the rest of the
    losses follow from KL, entropy and the value loss the way PPO couples them.
    Returns the series and the fps of each dump (for wall times).
    """
    count = len(steps)
    clip_fraction = np.clip(0.02 + 6.0 * kl + 0.008 * rng.standard_normal(count), 0.0, 1.0)
    policy_loss = -(0.004 + 0.35 * kl) + 0.002 * rng.standard_normal(count)
    # train/loss is the last minibatch's total loss: pg + vf_coef * vf - ent_coef * H.
    total_loss = policy_loss + 0.5 * value_loss - 0.01 * entropy + 0.004 * rng.standard_normal(count)
    fps = np.round(1850.0 + 60.0 * _correlated_noise(rng, count, 0.5))

    train = slice(1, None)
    f32 = np.float32
    rollout = {
        "rollout/ep_rew_mean": ep_return,
        "rollout/ep_len_mean": ep_length,
        "time/fps": fps,
        # npp-rl EnhancedTensorBoardCallback, from the same episodes
        "episode/reward_mean": ep_return,
        "episode/length_mean": ep_length,
        "episode/success_rate": success,
    }
    training = {
        "train/learning_rate": lr,
        "train/approx_kl": kl,
        "train/entropy_loss": -entropy,  # SB3 logs the entropy *loss*: -H
        "train/clip_fraction": clip_fraction,
        "train/policy_gradient_loss": policy_loss,
        "train/value_loss": value_loss,
        "train/explained_variance": explained_variance,
        "train/loss": total_loss,
        "train/clip_range": np.full(count, 0.2),
        # npp-rl mirrors, copied from SB3's logger (so loss/entropy is -H too)
        "training/learning_rate": lr,
        "training/approx_kl": kl,
        "training/clip_fraction": clip_fraction,
        "training/explained_variance": explained_variance,
        "loss/entropy": -entropy,
        "loss/value": value_loss,
        "loss/total": total_loss,
    }
    series = {tag: (steps, values.astype(f32)) for tag, values in rollout.items()}
    series.update({tag: (steps[train], values[train].astype(f32)) for tag, values in training.items()})
    return series, fps


def _wall_times(steps: np.ndarray, fps: np.ndarray) -> dict[int, float]:
    gaps = np.diff(np.concatenate([[0], steps])) / fps
    return {int(s): round(START_WALL_TIME + t, 3) for s, t in zip(steps, np.cumsum(gaps))}


# --- (a) the originating failure -------------------------------------------------


def constant_lr_run(seed: int = SEED) -> SyntheticRun:
    """GRU policy at a constant 3e-4 from step 0: KL over 0.02 from ~1.9M, peak 0.0334."""
    rng = np.random.RandomState(seed)
    steps = ROLLOUT_STEPS * np.arange(1, 286, dtype=np.int64)  # stopped by hand at 4.67M
    m = steps / 1e6
    count = len(steps)

    kl_trend = _curve(
        m,
        [(0.0, 0.0108), (0.5, 0.0100), (1.2, 0.0128), (1.7, 0.0170), (2.1, 0.0232),
         (2.8, 0.0268), (3.5, 0.0288), (4.0, 0.0276), (4.7, 0.0266)],
    )
    kl = kl_trend * np.exp(0.085 * _correlated_noise(rng, count, 0.55))
    onset = int(np.searchsorted(m, 1.9))
    # Before the onset the KL is under target; SB3's target_kl=0.02 stops an update's
    # epochs once a minibatch passes 0.03, so the logged means sit below the one peak.
    kl[:onset] = _soft_ceiling(kl[:onset], 0.0180, 0.0194)
    kl[onset] = max(kl[onset], 0.0207)
    kl[onset + 8 :] = -_soft_ceiling(-kl[onset + 8 :], -0.0225, -0.0203)
    kl = _soft_ceiling(kl, 0.0300, 0.0326)
    peak = int(np.searchsorted(m, 3.55))
    kl[peak] = KL_PEAK

    entropy = _curve(
        m,
        [(0.0, 1.50), (0.3, 1.46), (0.9, 1.41), (1.4, 1.42), (2.0, 1.48),
         (2.6, 1.56), (3.2, 1.64), (3.8, 1.70), (4.7, 1.73)],
    ) + 0.008 * _correlated_noise(rng, count, 0.6)
    ep_return = _curve(
        m, [(0.0, 0.42), (0.6, 0.46), (1.5, 0.47), (2.2, 0.44), (3.0, 0.31), (3.6, 0.16), (4.2, 0.07), (4.7, 0.05)]
    ) + 0.025 * _correlated_noise(rng, count, 0.8)
    success = _episode_mean_of_100(
        _curve(m, [(0.0, 0.21), (0.6, 0.24), (1.5, 0.245), (2.2, 0.22), (3.0, 0.14), (3.6, 0.06), (4.2, 0.02),
                   (4.7, 0.015)])
        + 0.018 * _correlated_noise(rng, count, 0.8)
    )
    ep_length = _curve(
        m, [(0.0, 1150), (0.6, 1080), (1.5, 1060), (2.2, 1120), (3.0, 1400), (3.6, 1750), (4.2, 1950), (4.7, 2000)]
    ) + 40.0 * _correlated_noise(rng, count, 0.8)
    explained_variance = _curve(
        m, [(0.0, 0.35), (0.6, 0.62), (1.5, 0.70), (2.2, 0.66), (3.0, 0.45), (3.6, 0.22), (4.2, 0.08), (4.7, 0.05)]
    ) + 0.04 * rng.standard_normal(count)
    value_loss = _curve(
        m, [(0.0, 0.045), (0.6, 0.038), (1.5, 0.035), (2.2, 0.040), (3.0, 0.060), (3.6, 0.085), (4.7, 0.060)]
    ) * np.exp(0.15 * rng.standard_normal(count))

    lr = np.full(count, CONSTANT_LR)
    series, fps = _ppo_series(
        steps, lr, kl, entropy, ep_return, success, ep_length, explained_variance, value_loss, rng
    )
    config = _base_config(CONSTANT_RUN) | {
        "learning_rate": CONSTANT_LR,
        "lr_schedule": "constant",
        # the bug: warmup was given only to these names, and "graph_free" is a GRU
        "warmup_architectures": ["attention", "mamba"],
    }
    return SyntheticRun(CONSTANT_RUN, config, series, _wall_times(steps, fps))


# --- (b) the fix -------------------------------------------------------------------


def recommended_run(seed: int = SEED + 1) -> SyntheticRun:
    """The same policy on Schedule(base_lr=1e-4, total_steps=20M): healthy for 20M steps."""
    rng = np.random.RandomState(seed)
    schedule = Schedule(base_lr=1e-4, total_steps=20_000_000)
    # SB3 runs whole rollouts until it passes total_timesteps (1221 x 16,384), and
    # with log_interval=3 it dumps every 49,152 steps.
    steps = 3 * ROLLOUT_STEPS * np.arange(1, 408, dtype=np.int64)
    m = steps / 1e6
    count = len(steps)

    lr = schedule.lr(steps)
    kl_trend = _curve(
        m,
        [(0.0, 0.0008), (0.5, 0.0060), (1.5, 0.0105), (5.0, 0.0150), (8.0, 0.0120), (14.0, 0.0080),
         (20.0, 0.0045)],
    )
    kl = kl_trend * np.exp(0.10 * _correlated_noise(rng, count, 0.5))
    slow_start = m < 0.5
    kl[slow_start] = _soft_ceiling(kl[slow_start], 0.0070, 0.0090)
    kl = _soft_ceiling(kl, 0.0160, 0.0185)

    entropy = _curve(m, [(0.0, 1.50), (0.5, 1.49), (5.0, 1.38), (12.0, 1.20), (20.0, 1.05)]) + 0.008 * (
        _correlated_noise(rng, count, 0.6)
    )
    ep_return = _curve(m, [(0.0, 0.42), (0.5, 0.43), (5.0, 0.58), (12.0, 0.76), (20.0, 0.85)]) + 0.02 * (
        _correlated_noise(rng, count, 0.8)
    )
    success = _episode_mean_of_100(
        _curve(m, [(0.0, 0.21), (0.5, 0.22), (5.0, 0.42), (12.0, 0.66), (20.0, 0.78)])
        + 0.02 * _correlated_noise(rng, count, 0.8)
    )
    ep_length = _curve(m, [(0.0, 1150), (0.5, 1140), (5.0, 950), (12.0, 760), (20.0, 650)]) + 30.0 * (
        _correlated_noise(rng, count, 0.8)
    )
    explained_variance = _curve(m, [(0.0, 0.30), (0.5, 0.50), (5.0, 0.72), (20.0, 0.86)]) + 0.03 * (
        rng.standard_normal(count)
    )
    value_loss = _curve(m, [(0.0, 0.050), (0.5, 0.042), (5.0, 0.034), (20.0, 0.022)]) * np.exp(
        0.15 * rng.standard_normal(count)
    )

    series, fps = _ppo_series(
        steps, lr, kl, entropy, ep_return, success, ep_length, explained_variance, value_loss, rng
    )
    config = _base_config(RECOMMENDED_RUN) | {
        "learning_rate": 1e-4,
        "lr_schedule": "warmup",
        "lr_schedule_kwargs": {
            "start_factor": schedule.start_factor,
            "slow_end": schedule.slow_end,
            "slow_factor": schedule.slow_factor,
            "ramp_end": schedule.ramp_end,
            "final_factor": schedule.final_factor,
        },
        "warmup_architectures": ["attention", "mamba", "graph_free"],
    }
    return SyntheticRun(RECOMMENDED_RUN, config, series, _wall_times(steps, fps))


# --- writing -------------------------------------------------------------------------


def write_run(run: SyntheticRun, out_dir: Path) -> Path:
    """Write ``out_dir/<run.name>/config.json`` and one event file; return the run dir.

    Events are ordered as a live writer emits them: by step, then tag in the order
    the logger records them; one scalar per event, as SB3's writer does.
    """
    run_dir = Path(out_dir) / run.name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(run.config, indent=2) + "\n")

    by_step: dict[int, list[tuple[str, float]]] = {}
    for tag, (steps, values) in run.series.items():
        for step, value in zip(steps.tolist(), values.tolist()):
            by_step.setdefault(step, []).append((tag, value))

    event_path = run_dir / EVENT_FILE_NAME
    writer = RecordWriter(str(event_path))
    try:
        writer.write(event_pb2.Event(wall_time=START_WALL_TIME, file_version="brain.Event:2").SerializeToString())
        for step in sorted(by_step):
            wall_time = run.wall_times[step]
            for tag, value in by_step[step]:
                event = event_pb2.Event(wall_time=wall_time, step=step, summary=scalar(tag, value))
                writer.write(event.SerializeToString())
    finally:
        writer.close()
    return run_dir


def make_sample_logs(out_dir: Path) -> list[Path]:
    """Write both synthetic runs under ``out_dir``; return their directories."""
    return [write_run(run, out_dir) for run in (constant_lr_run(), recommended_run())]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "sample_logs"
    for path in make_sample_logs(target):
        print(path)
