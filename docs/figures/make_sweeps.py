"""Write the SYNTHETIC sweeps of 3, 20 and 100 runs whose overviews are shown in the README, and draw them.

Deterministic (seeds from 100 up): each run draws its fate from its own seed. The runs are
recurrent (an LSTM, as sb3-contrib's RecurrentPPO trains) and log what SB3 logs, under SB3's
tag names and signs, in real TensorBoard event files (the encoder of benchmarks/make_sweep.py,
byte-identical to tensorboardX's). The numbers are made up but shaped like the runs lrdoctor
diagnoses: a constant LR high enough collapses (KL climbs past 0.02, entropy rises, the return
falls), a lower constant LR is only at risk, a warmup schedule stays healthy, and a few run hot
but recover (unstable). Lengths differ (1M to 8M steps), as in a real sweep.

    python docs/figures/make_sweeps.py            # writes docs/figures/sweep-{3,20,100}.png
    python docs/figures/make_sweeps.py --keep DIR # also keeps the event files under DIR

Each overview is what ``lrdoctor analyze DIR/sweep-20 --plots PLOTS`` draws as PLOTS/sweep.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
from make_sweep import START_TIME, file_version_record, scalar_record  # noqa: E402

SIZES = (3, 20, 100)
FIRST_SEED = 100
LOG_EVERY = 16_384  # env steps between two logged updates (n_steps 2048 x 8 envs)
FATES = ("collapse", "healthy", "healthy", "at risk", "healthy", "unstable", "collapse", "healthy")


def run_series(seed: int) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """A run's name, steps and SB3 tags, from its seed alone."""
    rng = np.random.default_rng(seed)
    fate = FATES[seed % len(FATES)] if seed - FIRST_SEED >= 3 else ("collapse", "at risk", "healthy")[seed - FIRST_SEED]
    total = int(rng.choice([1_000_000, 2_000_000, 4_000_000, 8_000_000]))
    steps = np.arange(LOG_EVERY, total + 1, LOG_EVERY, dtype=np.int64)
    n = len(steps)
    p = np.linspace(0.0, 1.0, n)
    noise = lambda scale: rng.normal(0.0, scale, n)  # noqa: E731
    if fate == "healthy":
        base = float(rng.choice([1e-4, 2e-4, 3e-4]))
        warm = np.clip(p / 0.25, 0, 1)
        lr = base * np.where(p < 0.25, 0.01 + 0.99 * warm, 1.0 - 0.9 * (p - 0.25) / 0.75)
        kl = 0.004 + 0.011 * lr / base + np.abs(noise(0.0015))
        entropy = 1.4 - 0.5 * p + noise(0.01)
        reward = 0.3 + 0.55 * (1 - np.exp(-3 * p)) + noise(0.02)
        schedule = "warmup"
    elif fate == "at risk":
        base = 1e-4
        lr = np.full(n, base)
        kl = 0.008 + 0.004 * p + np.abs(noise(0.0015))
        entropy = 1.4 - 0.35 * p + noise(0.01)
        reward = 0.3 + 0.4 * p + noise(0.02)
        schedule = "constant"
    elif fate == "unstable":
        base = 5e-4
        lr = np.full(n, base)
        hot = np.exp(-(((p - 0.45) / 0.12) ** 2))
        kl = 0.012 + 0.02 * hot + np.abs(noise(0.002))
        entropy = 1.4 - 0.4 * p + noise(0.01)
        reward = 0.3 + 0.5 * p + noise(0.02)
        schedule = "constant"
    else:  # collapse: the originating case, at a random onset
        base = float(rng.choice([3e-4, 6e-4, 1e-3]))
        onset = float(rng.uniform(0.2, 0.5))
        lr = np.full(n, base)
        after = np.clip((p - onset) / (1 - onset), 0, 1)
        kl = 0.01 + 0.006 * p + 0.02 * after ** 0.7 + np.abs(noise(0.002))
        entropy = 1.45 - 0.1 * np.minimum(p, onset) + 0.35 * after + noise(0.01)
        reward = 0.3 + 0.25 * np.minimum(p, onset) / onset - 0.45 * after + noise(0.02)
        schedule = "constant"
    name = f"lr{base:.0e}_{schedule}_seed{seed}".replace("e-0", "e-")
    tags = {
        "train/learning_rate": lr,
        "train/approx_kl": kl,
        "train/entropy_loss": -entropy,  # SB3 logs -H
        "train/clip_fraction": np.clip(kl * 6 + noise(0.01), 0, 1),
        "rollout/ep_rew_mean": reward,
    }
    return name, steps, tags


def write_run(out: Path, seed: int) -> Path:
    name, steps, tags = run_series(seed)
    run_dir = out / name
    run_dir.mkdir(parents=True)
    config = {"algo": "RecurrentPPO", "policy": "MlpLstmPolicy", "learning_rate": float(tags["train/learning_rate"][0])}
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    wall = START_TIME + seed * 1e5
    records = [file_version_record(wall)]
    columns = {tag: values.astype(np.float32).tolist() for tag, values in tags.items()}
    for i, step in enumerate(steps.tolist()):
        for tag, column in columns.items():
            records.append(scalar_record(tag, column[i], step, wall + 1.0 + 0.5 * i))
    (run_dir / f"events.out.tfevents.{int(wall)}.synthetic.{seed}.0").write_bytes(b"".join(records))
    return run_dir


def draw(logs: Path, figure: Path) -> str:
    """What ``lrdoctor analyze LOGS --plots DIR`` draws as its sweep overview, without the per-run figures."""
    from lrdoctor.read import ingest
    from lrdoctor.report import Report, figures, worst_first
    from lrdoctor.report.text import totals
    from lrdoctor.rules import engine
    from lrdoctor.rules.options import load_options

    runs = ingest.load([logs], use_cache=False).runs
    results = worst_first(engine.analyze(runs, load_options()))
    figures.draw_sweep(results, figure)
    return totals(Report(results)).plain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="keep the sweeps' event files under this directory")
    parser.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lrdoctor-sweeps-"))
    try:
        for size in args.sizes:
            logs = (args.keep or work) / f"sweep-{size}"
            shutil.rmtree(logs, ignore_errors=True)
            for seed in range(FIRST_SEED, FIRST_SEED + size):
                write_run(logs, seed)
            said = draw(logs, HERE / f"sweep-{size}.png")
            print(f"sweep-{size}.png: {said}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
