"""Time ``analyze --jobs 2`` against ``analyze --cluster 2`` on a SYNTHETIC sweep of small runs (issue 21).

    python benchmarks/cluster.py                 # 1,000 runs x 10 tags x 100 steps, and 10 runs
    python benchmarks/cluster.py --runs 200      # quicker

Both commands are timed end to end in their own process (``--format json --no-cache -o
/dev/null``), on a sweep of N runs and on one of 10, so what each run costs (the slope)
is told apart from what starting costs (a process pool, or a scheduler and two worker
processes): per-run cost = (t(N) - t(10)) / (N - 10). The cluster's per-run overhead is the
difference of the two slopes: what submitting a task, shipping its result back (a pickled
Run) and the scheduler's bookkeeping add to reading it. On one machine the cluster's two
workers share the same two cores as a two-process pool, so it cannot be faster; the gain
is in adding machines, each worker reading at the per-run cost measured here.

Sweeps come from benchmarks/make_sweep.py into --data (default benchmarks/data/, ignored
by git). Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SMALL = 10


def sweep(data: Path, runs: int, steps: int) -> Path:
    root = data / f"sweep-{runs}x{steps}"
    marker = root / "COMPLETE"
    if not marker.exists():
        subprocess.run([sys.executable, str(HERE / "make_sweep.py"), str(root), "--runs", str(runs),
                        "--steps", str(steps)], check=True)
        marker.write_text("synthetic sweep written by benchmarks/make_sweep.py\n")
    return root


def seconds(root: Path, how: list[str], cache: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree: the command, its pool or its
    scheduler, nannies and workers, all reaped by the time it exits)."""
    command = [sys.executable, "-m", "lrdoctor", "analyze", str(root), "--format", "json", "--no-cache",
               "-o", os.devnull, *how]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    environment = {**os.environ, "LRDOCTOR_CACHE_DIR": str(cache)}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="take the fastest of this many timings")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    options = parser.parse_args(argv)
    big, small = sweep(options.data, options.runs, options.steps), sweep(options.data, SMALL, options.steps)
    cache = options.data / "cache-unused"
    ways = {"local, --jobs 2": ["--jobs", "2"], "Dask LocalCluster, --cluster 2": ["--cluster", "2"]}
    rows = []
    for label, how in ways.items():
        big_wall, big_cpu = min(seconds(big, how, cache) for _ in range(options.repeat))
        small_wall, small_cpu = min(seconds(small, how, cache) for _ in range(options.repeat))
        runs = options.runs - SMALL
        wall, cpu = (big_wall - small_wall) / runs, (big_cpu - small_cpu) / runs
        rows.append((label, big_wall, small_wall, wall, big_cpu, cpu))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}; {options.runs} runs x 10 tags x {options.steps} steps\n")
    print(f"| how | {options.runs} runs, wall s | {SMALL} runs, wall s | wall per run ms | "
          f"{options.runs} runs, CPU s (all processes) | CPU per run ms | runs/s per worker core (from CPU) |")
    print("|---|---|---|---|---|---|---|")
    for label, big_wall, small_wall, wall, big_cpu, cpu in rows:
        print(f"| {label} | {big_wall:.2f} | {small_wall:.2f} | {wall * 1e3:.1f} | {big_cpu:.2f} | {cpu * 1e3:.1f} | "
              f"{1 / cpu:.0f} |")
    print(f"\ncluster overhead per run: {(rows[1][5] - rows[0][5]) * 1e3:+.1f} ms of CPU, "
          f"{(rows[1][3] - rows[0][3]) * 1e3:+.1f} ms of wall time (cluster slope minus local slope)")


if __name__ == "__main__":
    main()
