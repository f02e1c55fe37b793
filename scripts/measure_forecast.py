"""Measure LRD015 collapse-forecast on every real run in tests/: lead time and false alarms.

Each run is replayed update by update as a live run sees it: at each update the run holds
only the points logged up to that step (its LR shape judged on those alone), the rules run
on it, and the first update at which LRD015 appears is the forecast. The collapse onset is
LRD006's onset on the whole run. A run is

- a collapse when LRD006 finds one in the whole run;
- healthy when it does not and it is not under ``not_collapsed/`` (too-high LRs that did not
  collapse within their short run: neither a hit nor a false alarm, reported apart).

Lead = onset - forecast, in steps and in updates; the stop a live run makes comes at the
forecast or, within the grace period, at its end (``GRACE_UPDATES``): its lead is given too.

    python scripts/measure_forecast.py              # the Markdown table of the README
    python scripts/measure_forecast.py --json       # the same numbers as JSON (used by a test)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from lrdoctor import load_runs
from lrdoctor.live.monitor import GRACE_UPDATES
from lrdoctor.model import Metrics, Run
from lrdoctor.read.lrshape import lr_shape
from lrdoctor.rules import engine
from lrdoctor.rules.options import load_options

ROOT = Path(__file__).resolve().parents[1]

CORPORA = ("tests/real_collapses", "tests/real_runs")
FORECAST, COLLAPSE = "LRD015", "LRD006"


def update_steps(run: Run) -> np.ndarray:
    """The steps at which the run logged an update: those of its most-logged training metric."""
    for metric in ("kl", "lr", "entropy", "value_loss", "explained_variance", "policy_loss"):
        points = run.metrics.points(metric)
        if points is not None and len(points[0]):
            return np.unique(points[0])
    return np.array([], dtype=np.int64)


def up_to(run: Run, step: int) -> Run:
    """The run as it stood at ``step``: what a live watcher had read by then."""
    points = {}
    for name in run.metrics:
        steps, values = run.metrics.points(name)
        keep = steps <= step
        points[name] = (steps[keep], values[keep])
    lr = points.get("lr")
    return dataclasses.replace(run, metrics=Metrics.from_points(points),
                               lr_shape=lr_shape(lr) if lr is not None else run.lr_shape)


def measure(run: Run, options, replay_options, grace: int) -> dict:
    whole = engine.analyze([run], options)[0]
    collapse = next((f for f in whole.findings if f.code == COLLAPSE), None)
    onset = collapse.evidence.get("onset_step") if collapse else None
    updates = update_steps(run)
    forecast_step = forecast_update = None
    for number, step in enumerate(updates, start=1):
        result = engine.analyze([up_to(run, int(step))], replay_options)[0]
        found = next((f for f in result.findings if f.code == FORECAST), None)
        if found is not None:
            forecast_step, forecast_update = int(found.step), number
            break
    offline = next((f.step for f in whole.findings if f.code == FORECAST), None)
    per_update = float(np.median(np.diff(updates))) if len(updates) > 1 else None
    stop_step = None
    if forecast_update is not None:
        stop_step = forecast_step if forecast_update > grace else int(updates[min(grace, len(updates) - 1)])
    group = "collapse" if collapse else "not collapsed (too-high LR)" if "not_collapsed" in str(run.path) else "healthy"
    lead = onset - forecast_step if onset is not None and forecast_step is not None else None
    stop_lead = onset - stop_step if onset is not None and stop_step is not None else None
    return {
        "run": str(run.path.relative_to(ROOT)) if run.path.is_relative_to(ROOT) else str(run.path),
        "library": run.library,
        "group": group,
        "updates": len(updates),
        "onset_step": onset,
        "forecast_step": forecast_step,
        "forecast_update": forecast_update,
        "offline_step": offline,  # the rule on the whole run: equal to the live one (it is causal)
        "lead_steps": lead,
        "lead_updates": round(lead / per_update, 1) if lead is not None and per_update else None,
        "stop_step": stop_step,
        "stop_lead_steps": stop_lead,
        "signs": list(next((f.evidence["signs"] for f in whole.findings if f.code == FORECAST), [])),
    }


def measure_all(grace: int = GRACE_UPDATES) -> list[dict]:
    options = load_options(cwd=Path("/"))
    replay_options = load_options(cwd=Path("/"), select=[FORECAST])  # the other rules do not move its step
    runs = load_runs([ROOT / corpus for corpus in CORPORA], use_cache=False)
    return [measure(run, options, replay_options, grace) for run in sorted(runs, key=lambda r: str(r.path))]


def table(rows: list[dict], grace: int) -> str:
    lines = [
        ("| run | library | updates | collapse onset (LRD006) | forecast at (update) | lead: steps (updates) "
         f"| stop with grace {grace}: lead | signs |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {"collapse": 0, "healthy": 1, "not collapsed (too-high LR)": 2}
    for row in sorted(rows, key=lambda r: (order[r["group"]], r["run"])):
        forecast = f"{row['forecast_step']:,} ({row['forecast_update']})" if row["forecast_step"] is not None else "—"
        lead = (f"{row['lead_steps']:,} ({row['lead_updates']:g})" if row["lead_steps"] is not None else "—")
        stop = f"{row['stop_lead_steps']:,}" if row["stop_lead_steps"] is not None else "—"
        onset = f"{row['onset_step']:,}" if row["onset_step"] is not None else row["group"]
        name = row["run"].replace("tests/", "", 1)
        lines.append(f"| `{name}` | {row['library']} | {row['updates']} | {onset} | {forecast} | {lead} | {stop} "
                     f"| {', '.join(row['signs']) or '—'} |")
    collapses = [r for r in rows if r["group"] == "collapse"]
    healthy = [r for r in rows if r["group"] == "healthy"]
    leads = [r["lead_updates"] for r in collapses if r["lead_updates"] is not None]
    alarms = sum(r["forecast_step"] is not None for r in healthy)
    lines.append("")
    lines.append(
        f"Collapses forecast before their onset: {sum(1 for r in collapses if (r['lead_steps'] or 0) > 0)} of "
        f"{len(collapses)} (lead {min(leads):g}–{max(leads):g} updates, median {float(np.median(leads)):g}); "
        f"false alarms on healthy runs: {alarms} of {len(healthy)}."
        if leads else f"false alarms on healthy runs: {alarms} of {len(healthy)}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--grace", type=int, default=GRACE_UPDATES, help="grace period, in updates")
    args = parser.parse_args()
    rows = measure_all(args.grace)
    print(json.dumps(rows, indent=1) if args.json else table(rows, args.grace))


if __name__ == "__main__":
    main()
