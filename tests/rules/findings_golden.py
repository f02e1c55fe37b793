"""Every rule's problems, with their evidence numbers at full precision, on real and SYNTHETIC runs.

The numeric core the rules share (rolling medians, noise levels, sustained masks) may be
rewritten for speed, never for different answers: ``tests/golden/findings_numeric.json``
holds what the rules found before such a rewrite, and tests/rules/test_findings_golden.py
requires the same today. Inputs: sample_logs/, tests/real_runs, tests/real_sweeps,
tests/real_collapses, and a SYNTHETIC benchmark-shaped sweep (benchmarks/make_sweep.py's
runs, small and of odd lengths so short series and small windows are covered too), each
under the default options and under a second set that moves every window and threshold.

    python tests/rules/findings_golden.py --write   # only when a change is meant to change findings
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "findings_numeric.json"
REAL_TREES = ("sample_logs", "tests/real_runs", "tests/real_sweeps", "tests/real_collapses")
# (runs, steps): the benchmark's shape, small; 5 and 9 steps reach the short-series paths.
SWEEP_SHAPES = ((8, 400), (4, 61), (4, 9), (4, 5))
SECOND_OPTIONS = [
    "kl-exceeded.window=4", "kl-exceeded.threshold=0.012", "entropy-rising.early_fraction=0.3",
    "entropy-rising.min_rise=0.05", "entropy-collapse.floor=0.5", "clip-fraction-high.threshold=0.08",
    "clip-fraction-high.window=5", "value-divergence.window=3", "value-divergence.growth=2",
    "value-divergence.ev_reached=0.1", "policy-collapse.return_drop=0.1",
]


def _make_sweep():
    return load_script(ROOT / "benchmarks" / "make_sweep.py")


def write_sweeps(directory: Path) -> list[Path]:
    """The SYNTHETIC sweeps, written deterministically under ``directory``."""
    make_sweep = _make_sweep()
    roots = []
    for runs, steps in SWEEP_SHAPES:
        root = directory / f"sweep-{runs}x{steps}"
        make_sweep.write_sweep(root, runs, steps)
        roots.append(root)
    return roots


def _plain(value):
    """JSON-ready, floats exact (json writes the shortest repr that reads back the same double)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar must not pass as a float
        return {"numpy": type(value).__name__, "value": _plain(value.item())}
    return value


def findings_of(root: Path, settings: list[str], label: str, cwd: Path) -> dict:
    """Per run: the engine's findings, and each rule's raw problems (evidence before rounding)."""
    from lrdoctor import rules
    from lrdoctor.read import ingest
    from lrdoctor.rules import engine, metric_missing
    from lrdoctor.rules.options import load_options

    options = load_options(cwd=cwd, rule_settings=dict(s.split("=", 1) for s in settings))
    ingested = ingest.load([root], use_cache=False, jobs=1)
    out = {}
    for run in ingested.runs:
        result = engine.judge(run, options)
        raw = {}
        present = metric_missing.present_metrics(run)
        for code, module in rules.RULES.items():
            if not hasattr(module, "check") or metric_missing.unmet(module, present) or not present:
                continue
            raw[code] = [
                {"message": p.message, "step": _plain(p.step), "evidence": _plain(dict(p.evidence)),
                 "severity": p.severity.value if p.severity else None, "caused_by": p.caused_by}
                for p in module.check(run, options.rule_options[code])
            ]
        out[f"{label}/{run.name}"] = {
            "findings": [
                {"code": f.code, "severity": f.severity.value, "step": f.step, "message": f.message,
                 "evidence": _plain(dict(f.evidence)), "caused_by": f.caused_by}
                for f in result.findings
            ],
            "judged_by": _plain(dict(result.judged_by)),
            "problems": raw,
        }
    return out


def capture(sweep_dir: Path) -> dict:
    everything = {}
    trees = [(ROOT / tree, tree) for tree in REAL_TREES]
    trees += [(root, f"synthetic/{root.name}") for root in write_sweeps(sweep_dir)]
    for root, label in trees:
        everything.update(findings_of(root, [], f"default/{label}", sweep_dir))
        everything.update(findings_of(root, SECOND_OPTIONS, f"second/{label}", sweep_dir))
    return everything


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        data = capture(Path(tmp))
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(data)} run judgements)")
