"""Time lrdoctor against the tbparse baseline on the same SYNTHETIC sweep (issue 7). Run by hand.

    python benchmarks/run.py            # 100 runs x 10 tags x 10,000 steps, then 4x and 16x the steps
    python benchmarks/run.py --quick    # 10 runs x 1,000 steps and its 4x / 16x: a minute
    python benchmarks/run.py --scales 1 --reader   # also time the event reader alone, and its CRC checks

Every measurement runs in its own subprocess, started from a fresh launcher so that
``RUSAGE_CHILDREN`` describes that measurement alone:
- baseline: ``tbparse.SummaryReader(root).scalars`` (only at the scales in --baseline-scales:
  it takes minutes per 10M events);
- lrdoctor: ``lrdoctor analyze ROOT --format json --no-cache -o /dev/null``, end to end;
- cached: the same without --no-cache against an empty cache directory (fills it), then
  again: the same invocation is replayed from its entry (lrdoctor.replay); and with another
  --jobs each time, an invocation no entry matches, so every run comes from the run cache;
- with --reader: ``read_event_file`` over every file in one process, and once more under
  cProfile for the share of that time spent verifying CRCs (length and payload checks).
- the fixed cost (issue 17: under 0.5 s at the 2M-event sweep): analyze on the --fixed-cost
  sweep (40 runs x 5,000 steps by default) at a quarter, one and four times its steps,
  interleaved, and the intercept of a line fitted through them;
Peak memory is reported twice: the largest single process (maxrss) and the sampled sum
of proportional set sizes over the process tree (analyze reads runs in worker processes;
PSS counts the pages they share with their parent once). Sampling reads /proc every 20 ms,
which takes CPU from what is measured, so memory comes from one more, sampled run of
lrdoctor and of the Rust server; timed runs are not sampled (tbparse, one process, needs
only its maxrss). Sweeps are generated
with benchmarks/make_sweep.py into --data (default benchmarks/data/, git-ignored) and
reused when already there. Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# What "lrdoctor" means in the table; {root} is the sweep directory.
LRDOCTOR_COMMAND = ["lrdoctor", "analyze", "{root}", "--format", "json", "--no-cache", "-o", os.devnull]
CACHED_COMMAND = ["lrdoctor", "analyze", "{root}", "--format", "json", "-o", os.devnull]
# The same analysis asked another way (--jobs N, a new N each time): not replayed, read from the run cache.
RUN_CACHE_COMMAND = [*CACHED_COMMAND, "--jobs", "{jobs}"]
BASELINE_CODE = "import sys; from tbparse import SummaryReader; print(len(SummaryReader(sys.argv[1]).scalars))"
# Sizes, as multiples of --fixed-cost's steps, through which its fixed cost is fitted.
FIXED_COST_SCALES = (0.25, 1, 4)
# What any command line on lrdoctor's stack pays before a line of its own runs: the interpreter
# importing numpy (one BLAS thread, as lrdoctor sets it) and typer. Beside start-up and the
# cached re-run it shows how fast the machine is at what those are made of.
FLOOR_CODE = "import numpy, typer"
READER_CODE = (
    "import sys, pathlib; from lrdoctor.read.events import read_event_file\n"
    "n = sum(len(s) for f in sorted(pathlib.Path(sys.argv[1]).rglob('events.out.tfevents.*'))"
    " for s, _ in read_event_file(f).scalars.values())\nprint(n)"
)
# The reader under cProfile: seconds in the functions that verify CRCs, of all profiled seconds.
CRC_FUNCTIONS = ("_first_bad_length", "_payload_crc_ok", "_slot_crc_ok", "masked_crc", "_crc_table")
CRC_SHARE_CODE = (
    "import cProfile, json, pathlib, pstats, sys\n"
    "from lrdoctor.read import events\n"
    "profile = cProfile.Profile()\n"
    "profile.enable()\n"
    "for f in sorted(pathlib.Path(sys.argv[1]).rglob('events.out.tfevents.*')): events.read_event_file(f)\n"
    "profile.disable()\n"
    "stats = pstats.Stats(profile).stats\n"
    "crc = sum(ct for (file, _, name), (_, _, _, ct, _) in stats.items()\n"
    f"          if file == events.__file__ and name in {CRC_FUNCTIONS!r})\n"
    "print(json.dumps({'total': sum(tt for _, _, tt, _, _ in stats.values()), 'crc': crc}))"
)

# One watch pass over the sweep when nothing changed, in one process: the first pass reads
# (through the disk cache), then the median of five passes that find nothing new.
WATCH_CODE = (
    "import json, statistics, sys, time\n"
    "from pathlib import Path\n"
    "from lrdoctor.live.watch import Settings, WatchState, poll\n"
    "from lrdoctor.rules.options import Options\n"
    "settings, state = Settings(Options()), WatchState()\n"
    "state, _ = poll(state, [Path(sys.argv[1])], settings)\n"
    "passes = []\n"
    "for _ in range(5):\n"
    "    start = time.perf_counter()\n"
    "    state, new = poll(state, [Path(sys.argv[1])], settings)\n"
    "    passes.append(time.perf_counter() - start)\n"
    "    assert not new and not state.changed\n"
    "print(json.dumps({'pass': statistics.median(passes)}))"
)

# TensorBoard's own Rust data server (the `tensorboard_data_server` package tensorboard depends
# on), reading alone with every CRC checked and every scalar kept; timed to the log line that
# ends its one load cycle, then stopped (it would go on serving).
RUST_ARGS = ["--checksum", "--samples-per-plugin", "scalars=all", "--reload", "once", "--port", "0", "--verbose"]
RUST_DONE = "Finished load cycle"

# Runs in the launcher subprocess: start the command, time it, report. With sampling on, the
# process tree's PSS is read every 20 ms (reading /proc/*/smaps_rollup costs CPU the command
# would have had: 15-20% of a 2-core machine, so timed runs are not sampled). With a fourth
# argument, the command counts as done when a line of its stderr contains it.
LAUNCHER = r"""
import json, os, resource, subprocess, sys, threading, time
command, env, sample = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "sample"
until = sys.argv[4] if len(sys.argv) > 4 else None
def tree_pss(pid):
    # PSS: pages shared by forked workers are counted once across the tree, not per process.
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("Pss:")) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total
start = time.perf_counter()
process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
finished, tail, done = [], [], threading.Event()
def watch_stderr():
    for line in iter(process.stderr.readline, b""):
        tail.append(line)
        if until is not None and until.encode() in line and not finished:
            finished.append(time.perf_counter())
            done.set()
    done.set()
reader = threading.Thread(target=watch_stderr, daemon=True)
reader.start()
peak = 0
while sample and process.poll() is None and not finished:
    peak = max(peak, tree_pss(process.pid))
    time.sleep(0.02)
done.wait()
if finished:
    peak = max(peak, tree_pss(process.pid)) if sample else 0
    process.kill()
out = process.stdout.read()
process.wait()
reader.join(timeout=5)
elapsed = (finished[0] if finished else time.perf_counter()) - start
maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
code = 0 if finished else process.returncode
err = b"".join(tail)
print(json.dumps({"seconds": elapsed, "maxrss": maxrss, "tree_peak": peak, "code": code,
                  "stdout": out.decode(errors="replace")[-300:], "stderr": err.decode(errors="replace")[-600:]}))
"""


def measure(command: list[str], env: dict[str, str] | None = None, until: str | None = None,
            sample: bool = False) -> dict:
    """Time ``command``; with ``sample``, also the peak PSS of its process tree (a separate run:
    sampling slows what it samples)."""
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(command), json.dumps(env or {}),
         "sample" if sample else "time", *([until] if until else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    outcome = json.loads(result.stdout)
    if outcome["code"] not in (0, 1):  # 1: findings, as expected on this sweep
        raise SystemExit(f"{command[0]} failed ({outcome['code']}):\n{outcome['stderr']}")
    return outcome


def compile_bytecode() -> None:
    """Compile lrdoctor's modules first: an installed package has its .pyc files, and a checkout
    run under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module in every process
    (a third of a second of start-up that no user pays)."""
    import lrdoctor

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(lrdoctor.__file__).parent)], check=True)


def fixed_cost(rows: list[dict]) -> tuple[float, float] | None:
    """Least-squares seconds = fixed + per_event * events over the sizes measured, or None."""
    if len(rows) < 2:
        return None
    xs = [row["events"] for row in rows]
    ys = [median([m["seconds"] for m in row["lrdoctor"]]) for row in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


def ensure_sweep(data: Path, runs: int, steps: int) -> tuple[Path, int, int]:
    root = data / f"sweep-{runs}x{steps}"
    marker = root / "COMPLETE"
    if not marker.exists():
        subprocess.run(
            [sys.executable, str(HERE / "make_sweep.py"), str(root), "--runs", str(runs), "--steps", str(steps)],
            check=True,
        )
        marker.write_text("synthetic sweep written by benchmarks/make_sweep.py\n")
    size = sum(p.stat().st_size for p in root.rglob("events.out.tfevents.*"))
    return root, runs * 10 * steps, size


def machine() -> str:
    from google.protobuf.internal import api_implementation

    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numpy
    import tbparse

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()} on {platform.system()}; "
        f"protobuf backend {api_implementation.Type()}; numpy {numpy.__version__}; tbparse {tbparse.__version__}"
    )


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def rust_server() -> str:
    from tensorboard_data_server import server_binary

    return server_binary()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--quick", action="store_true", help="10 runs x 1,000 steps as the 1x size")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--steps", type=int, help="logging steps per run at 1x")
    parser.add_argument("--scales", default="1,4,16", help="sizes, as multiples of the steps per run")
    parser.add_argument("--baseline-scales", default="1", help="sizes at which tbparse is timed too")
    parser.add_argument("--rust-scales", default="1,4", help="sizes at which the Rust data server is timed too")
    parser.add_argument("--repeat", type=int, default=3, help="times each fast measurement is repeated, interleaved")
    parser.add_argument("--reader", action="store_true", help="also time lrdoctor's event reader alone")
    parser.add_argument("--fixed-cost", default="40x5000", metavar="RUNSxSTEPS",
                        help="also fit analyze's fixed cost through 0.25x, 1x and 4x of this sweep ('' skips)")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 100)
    steps = args.steps or (1_000 if args.quick else 10_000)
    scales = [float(s) for s in args.scales.split(",")]
    baseline_scales = {float(s) for s in args.baseline_scales.split(",") if s}
    rust_scales = {float(s) for s in args.rust_scales.split(",") if s}
    compile_bytecode()
    load_before = os.getloadavg()

    # Start-up: what analyze costs before there is anything to read (one run of ten steps).
    tiny, _, _ = ensure_sweep(args.data, 1, 10)
    startup, floor = [], []
    for _ in range(args.repeat):  # interleaved
        startup.append(measure([part.format(root=tiny) for part in LRDOCTOR_COMMAND])["seconds"])
        floor.append(measure([sys.executable, "-c", FLOOR_CODE], {"OPENBLAS_NUM_THREADS": "1"})["seconds"])

    rows = []
    for scale in scales:
        root, events, size = ensure_sweep(args.data, runs, max(1, round(steps * scale)))
        row = {"scale": scale, "events": events, "size": size, "lrdoctor": [], "rust": [], "cached": [], "run cache": []}
        print(f"measuring {root.name} ({events:,} events, {mb(size)} MB)...", file=sys.stderr)
        if scale in baseline_scales:
            row["tbparse"] = measure([sys.executable, "-c", BASELINE_CODE, str(root)])
        ours = [part.format(root=root) for part in LRDOCTOR_COMMAND]
        theirs = [rust_server(), "--logdir", str(root), *RUST_ARGS]
        for _ in range(args.repeat):  # interleaved, so a busy moment on the machine hits both
            row["lrdoctor"].append(measure(ours))
            if scale in rust_scales:
                row["rust"].append(measure(theirs, until=RUST_DONE))
        row["lrdoctor memory"] = measure(ours, sample=True)
        if scale in rust_scales:
            row["rust memory"] = measure(theirs, until=RUST_DONE, sample=True)
        if args.reader:
            row["reader"] = measure([sys.executable, "-c", READER_CODE, str(root)])
            profiled = subprocess.run(
                [sys.executable, "-c", CRC_SHARE_CODE, str(root)], capture_output=True, text=True, check=True
            )
            row["crc"] = json.loads(profiled.stdout)
        with tempfile.TemporaryDirectory() as cache:
            env = {"LRDOCTOR_CACHE_DIR": cache}
            row["fill"] = measure([part.format(root=root) for part in CACHED_COMMAND], env)
            for jobs in range(1, args.repeat + 1):
                row["cached"].append(measure([part.format(root=root) for part in CACHED_COMMAND], env))
                other = [part.format(root=root, jobs=jobs) for part in RUN_CACHE_COMMAND]
                row["run cache"].append(measure(other, env))
            watched = subprocess.run([sys.executable, "-c", WATCH_CODE, str(root)], capture_output=True, text=True,
                                     check=True, env={**os.environ, **env})
            row["watch"] = json.loads(watched.stdout)["pass"]
        rows.append(row)

    family = fixed_cost_family(args.data, args.fixed_cost, args.repeat) if args.fixed_cost else None
    print(report(rows, startup, floor, (load_before, os.getloadavg()), args.repeat, family))


def fixed_cost_family(data: Path, spec: str, repeat: int) -> tuple[str, list[dict]]:
    """analyze at a quarter, one and four times the steps of the RUNSxSTEPS sweep, the sizes
    interleaved, so the fixed cost is fitted on the sweep size the issue names (its 2M events)
    in the same invocation as the main table."""
    runs, steps = (int(part) for part in spec.lower().split("x"))
    rows = []
    for scale in FIXED_COST_SCALES:
        root, events, _ = ensure_sweep(data, runs, max(1, round(steps * scale)))
        rows.append({"events": events, "root": root, "lrdoctor": []})
    print(f"fitting the fixed cost on {spec} at {', '.join(f'{s:g}x' for s in FIXED_COST_SCALES)}...", file=sys.stderr)
    for _ in range(repeat):
        for row in rows:
            row["lrdoctor"].append(measure([part.format(root=row["root"]) for part in LRDOCTOR_COMMAND]))
    return spec, rows


def seconds(measurements: list[dict]) -> str:
    """The median, and the range when there were several."""
    times = [m["seconds"] for m in measurements]
    if len(times) == 1:
        return f"{times[0]:.2f}"
    return f"{median(times):.2f} ({min(times):.2f}-{max(times):.2f})"


def report(rows: list[dict], startup: list[float], floor: list[float], load: tuple, repeat: int,
           family: tuple[str, list[dict]] | None = None) -> str:
    lines = [
        "| size | events | MB | tbparse s | Rust data server load s | lrdoctor analyze s | vs tbparse | "
        "vs Rust server | events/s | 1st run with cache s | cached re-run (replayed) s | from the run cache s | peak MB tbparse | "
        "peak MB Rust server | peak MB lrdoctor (largest process / whole tree, PSS) | watch pass, nothing new s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ours, base, rust, cached = row["lrdoctor"], row.get("tbparse"), row["rust"], row["cached"]
        ours_s = median([m["seconds"] for m in ours])
        rust_s = median([m["seconds"] for m in rust]) if rust else None
        cells = [
            f"{row['scale']:g}x",
            f"{row['events']:,}",
            mb(row["size"]),
            f"{base['seconds']:.1f}" if base else "-",
            seconds(rust) if rust else "-",
            seconds(ours),
            f"{base['seconds'] / ours_s:.1f}x" if base else "-",
            f"{rust_s / ours_s:.2f}x" if rust else "-",
            f"{row['events'] / ours_s:,.0f}",
            f"{row['fill']['seconds']:.2f}",
            seconds(cached),
            seconds(row["run cache"]),
            mb(base["maxrss"]) if base else "-",
            mb(row["rust memory"]["tree_peak"]) if rust else "-",
            f"{mb(row['lrdoctor memory']['maxrss'])} / {mb(row['lrdoctor memory']['tree_peak'])}",
            f"{row['watch']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    readers = [r for r in rows if "reader" in r]
    if readers:
        lines.append("")
        lines.append(
            "| size | event reader alone, one process s | events/s | peak MB "
            "| CRC checks, share of its time (cProfile) |"
        )
        lines.append("|---|---|---|---|---|")
        for row in readers:
            reader, crc = row["reader"], row["crc"]
            lines.append(
                f"| {row['scale']:g}x | {reader['seconds']:.2f} | {row['events'] / reader['seconds']:,.0f} | "
                f"{mb(reader['maxrss'])} | {crc['crc'] / crc['total']:.0%} "
                f"({crc['crc']:.2f} of {crc['total']:.2f} s) |"
            )
    fit = fixed_cost(rows)
    if fit is not None:
        lines.append("")
        rest = [(row["scale"], median([m["seconds"] for m in row["lrdoctor"]]) - fit[0], row["events"]) for row in rows]
        lines.append(
            f"Fit over the sizes: lrdoctor analyze s = {fit[0]:.2f} (fixed cost) + {fit[1] * 1e6:.3f} per million"
            " events; per size, time less the fixed cost, per million events: "
            + ", ".join(f"{scale:g}x {seconds / events * 1e6:.3f}" for scale, seconds, events in rest)
        )
    if family is not None:
        spec, sized = family
        fit = fixed_cost(sized)
        lines.append("")
        lines.append(
            f"Fixed cost on the {spec} sweep, fitted through "
            + ", ".join(f"{row['events'] / 1e6:g}M events {seconds(row['lrdoctor'])} s" for row in sized)
            + f": {fit[0]:.2f} s + {fit[1] * 1e6:.3f} s per million events."
        )
    lines.append("")
    lines.append(
        f"Start-up (analyze of one run of 10 steps, end to end): median {median(startup):.2f} s "
        f"({min(startup):.2f}-{max(startup):.2f}); the interpreter importing numpy and typer alone: median "
        f"{median(floor):.2f} s ({min(floor):.2f}-{max(floor):.2f}). Times: median (range) of {repeat} interleaved"
        " runs."
    )
    lines.append(
        f"Machine: {machine()}. Load average (1, 5, 15 min) {' '.join(f'{x:.1f}' for x in load[0])} at the start, "
        f"{' '.join(f'{x:.1f}' for x in load[1])} at the end."
    )
    lines.append("Data: SYNTHETIC sweep from benchmarks/make_sweep.py, files in page cache.")
    lines.append("lrdoctor: `" + " ".join(LRDOCTOR_COMMAND) + "` (default --jobs); times include process start.")
    lines.append(f"Rust data server: `{Path(rust_server()).name} --logdir ROOT {' '.join(RUST_ARGS)}`, "
                 f"timed to its \"{RUST_DONE}\" line. Memory: one more, sampled run of each (PSS).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
