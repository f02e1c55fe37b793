"""Read a run directory back with TensorBoard's own EventAccumulator and summarise each scalar tag.

    python scripts/corpus/readback.py tests/real_runs/<library>/<run> [--tag SUBSTR ...] [--series N]

For every event file under the run directory it prints each scalar tag with its number of
points, its step range, first/min/max/last value, and (with --series N) N evenly spaced
(step, value) samples, so the README's numbers can be checked by anyone.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def summarise(path: Path, series: int, tags: list[str]) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file() and "tfevents" in p.name)
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    print(f"# {path}  ({total / 1024:.1f} KB on disk, {len(files)} event file(s))")
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        names = acc.Tags()["scalars"]
        print(f"## {f.relative_to(path)}  ({f.stat().st_size / 1024:.1f} KB, {len(names)} scalar tags)")
        for tag in names:
            if tags and not any(t.lower() in tag.lower() for t in tags):
                continue
            ev = acc.Scalars(tag)
            vals = [e.value for e in ev]
            print(
                f"{tag!r}: n={len(ev)} steps={ev[0].step}..{ev[-1].step} "
                f"first={vals[0]:.4g} min={min(vals):.4g} max={max(vals):.4g} last={vals[-1]:.4g}"
            )
            if series and len(ev) > 1:
                idx = sorted({round(i * (len(ev) - 1) / (series - 1)) for i in range(series)})
                print("    " + "  ".join(f"{ev[i].step}:{ev[i].value:.4g}" for i in idx))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--series", type=int, default=0)
    ap.add_argument("--tag", action="append", default=[])
    a = ap.parse_args()
    for r in a.runs:
        summarise(r, a.series, a.tag)
        print()


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
