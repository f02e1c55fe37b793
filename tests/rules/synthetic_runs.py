"""Synthetic runs for the rule tests: built in memory from pandas Series, never trained.

The scenarios imitate the originating case (synthetic): SB3-style updates every
16,384 env steps (8 envs x 2048), 285 updates; "collapsing" is a GRU at a constant
3e-4 whose approx KL goes over 0.02 from about 1.9M steps (peak 0.0334), whose
entropy rises and whose return falls; "healthy" is the same length with a KL
well under 0.02, entropy falling slowly and return rising.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lrdoctor.model import Architecture, LRShape, MetricSource, Run, RunConfig

STEP = 16_384
UPDATES = 285
SOURCES = {
    "lr": MetricSource("train/learning_rate", library="sb3"),
    "kl": MetricSource("train/approx_kl", estimator="k3", library="sb3"),
    "entropy": MetricSource("train/entropy_loss", negated=True, library="sb3"),
    "clip_fraction": MetricSource("train/clip_fraction", library="sb3"),
    "value_loss": MetricSource("train/value_loss", library="sb3"),
    "explained_variance": MetricSource("train/explained_variance", library="sb3"),
    "episode_return": MetricSource("rollout/ep_rew_mean", library="sb3"),
    "success_rate": MetricSource("rollout/success_rate", library="sb3"),
}
GRU = Architecture(kind="gru", recurrent=True, name="graph_free", source="config.json:8 rnn_type")
MLP = Architecture(kind="mlp", recurrent=False, name="MlpPolicy", source="policy name MlpPolicy")
UNKNOWN = Architecture()


def steps(n: int = UPDATES) -> np.ndarray:
    return STEP * np.arange(1, n + 1)


def series(values) -> pd.Series:
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.Index(steps(len(values)), dtype="int64"))


def constant_lr(value: float = 3e-4) -> LRShape:
    return LRShape(kind="constant", peak_lr=value, initial_lr=value, final_lr=value, warmup_fraction=0.0)


def collapsing_metrics(seed: int = 0) -> dict[str, pd.Series]:
    """Synthetic originating failure: KL over 0.02 from ~1.9M (peak 0.0334), entropy up, return down."""
    rng = np.random.RandomState(seed)
    x = steps()
    onset = 1_900_000
    kl = np.where(x < onset, 0.012 + 0.004 * x / onset, 0.022 + 0.008 * np.minimum((x - onset) / 1.5e6, 1.0))
    kl = kl + rng.normal(0, 0.0012, len(x))
    kl[x >= onset] = np.clip(kl[x >= onset], 0.0205, 0.033)
    kl[np.argmin(np.abs(x - 3_555_328))] = 0.0334
    entropy = np.where(x < 900_000, 1.5 - 0.1 * x / 900_000, 1.4 + 0.33 * np.minimum((x - 900_000) / 3.0e6, 1.0))
    entropy = entropy + rng.normal(0, 0.01, len(x))
    ret = np.where(x < 2_000_000, 0.46, 0.46 - 0.44 * np.minimum((x - 2_000_000) / 2.0e6, 1.0))
    ret = ret + rng.normal(0, 0.02, len(x))
    clip = 0.1 + 4 * np.maximum(kl - 0.01, 0) + rng.normal(0, 0.01, len(x))
    value_loss = 0.05 + 0.01 * rng.rand(len(x))
    ev = 0.6 + 0.05 * rng.normal(size=len(x))
    return {
        "lr": series(np.full(len(x), 3e-4)),
        "kl": series(kl),
        "entropy": series(entropy),
        "clip_fraction": series(clip),
        "value_loss": series(value_loss),
        "explained_variance": series(ev),
        "episode_return": series(ret),
    }


def healthy_metrics(seed: int = 1) -> dict[str, pd.Series]:
    """Synthetic healthy run: KL around 0.008, entropy falling slowly, return rising."""
    rng = np.random.RandomState(seed)
    x = steps()
    frac = x / x[-1]
    return {
        "lr": series(np.full(len(x), 1e-4)),
        "kl": series(0.008 + rng.normal(0, 0.002, len(x))),
        "entropy": series(1.5 - 0.45 * frac + rng.normal(0, 0.02, len(x))),
        "clip_fraction": series(0.12 + rng.normal(0, 0.02, len(x))),
        "value_loss": series(0.05 + 0.02 * rng.rand(len(x))),
        "explained_variance": series(np.minimum(0.9, 0.2 + frac) + rng.normal(0, 0.03, len(x))),
        "episode_return": series(0.4 + 0.45 * frac + rng.normal(0, 0.02, len(x))),
    }


def make_run(metrics: dict[str, pd.Series], *, architecture: Architecture = GRU, lr_shape: LRShape | None = None,
             config: RunConfig | None = None, name: str = "synthetic") -> Run:
    return Run(
        name=name,
        path=Path(name),
        metrics=dict(metrics),
        sources={k: v for k, v in SOURCES.items() if k in metrics},
        step_axis="env steps",
        library="sb3",
        architecture=architecture,
        config=config or RunConfig(),
        lr_shape=lr_shape or (constant_lr() if "lr" in metrics else LRShape()),
    )
