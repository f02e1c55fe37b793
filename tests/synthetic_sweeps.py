"""SYNTHETIC sweeps of 3, 20 and 100 runs for the sweep insight and its figure (no network was trained).

Deterministic (numpy seed 100 + the sweep's size). Each run declares ``learning_rate``,
``architecture`` (lstm or mlp), ``clip_range`` (0.1, 0.2, 0.3: an unrelated flag) and a
``seed``; its verdict follows one planted rule: an LSTM at a learning rate of 3e-3 or more, or
an MLP at 3e-2 or more, collapses (an LRD006 finding), everything else trains well. Its KL
series sits over the 0.02 threshold in most updates when it collapsed and under it otherwise,
so the figure's health score (share of KL over the threshold) agrees with the verdict, with
noise. The 100-run sweep draws its learning rates log-uniformly from [1e-4, 1e-1] (a value
axis); the 20-run sweep from the grid {3e-4, 1e-3, 3e-3, 1e-2, 3e-2}.

    python tests/synthetic_sweeps.py OUT_DIR     # draws OUT_DIR/synthetic-{3,20,100}.png to look at
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from lrdoctor.model import Finding, Run, RunResult, Severity, Sourced

GRID = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
CLIPS = (0.1, 0.2, 0.3)
POINTS = 60


def planted_sick(lr: float, architecture: str) -> bool:
    return lr >= (3e-3 if architecture == "lstm" else 3e-2) * 0.999


def sweep(size: int) -> list[RunResult]:
    rng = np.random.default_rng(100 + size)
    results = []
    for index in range(size):
        lr = float(10 ** rng.uniform(-4, -1)) if size >= 100 else GRID[index % len(GRID)]
        architecture = ("lstm", "mlp")[(index // len(GRID)) % 2] if size < 100 else ("lstm", "mlp")[index % 2]
        clip = CLIPS[int(rng.integers(len(CLIPS)))]
        seed = 100 + index
        sick = planted_sick(lr, architecture)
        share = rng.uniform(0.55, 0.98) if sick else rng.uniform(0.0, 0.12)
        steps = np.arange(1, POINTS + 1, dtype=np.int64) * 2048
        kl = np.where(rng.random(POINTS) < share, rng.uniform(0.021, 0.2, POINTS), rng.uniform(0.001, 0.019, POINTS))
        name = f"synthetic/lr={lr:.0e}_arch={architecture}_clip={clip}_seed={seed}"
        where = f"{name}/config.yaml"
        settings = {
            "learning_rate": Sourced(lr, f"{where}:2 learning_rate"),
            "architecture": Sourced(architecture, f"{where}:3 policy"),
            "clip_range": Sourced(clip, f"{where}:4 clip_range"),
            "seed": Sourced(seed, f"{where}:5 seed"),
        }
        run = Run(name=name, path=Path(name), settings=settings)
        run.metrics = type(run.metrics).from_points({"kl": (steps, kl)})
        findings = (
            (Finding("LRD006", "policy-collapse", Severity.error, "synthetic collapse", run=name, step=40_960),)
            if sick else ()
        )
        results.append(RunResult(run, findings, {"kl_threshold": 0.02}))
    return results


def main(out: Path) -> None:
    from lrdoctor.insight.sweep import sweep_insight
    from lrdoctor.report import figures

    out.mkdir(parents=True, exist_ok=True)
    for size in (3, 20, 100):
        drawn = figures.draw_insight(sweep_insight(sweep(size)), out / f"synthetic-{size}.png")
        print(drawn)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
