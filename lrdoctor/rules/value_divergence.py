"""LRD009 value-divergence: the value function blows up or stops explaining the returns.

Why: PPO's advantages come from its value function; when the value loss grows
by orders of magnitude, or the explained variance falls below zero after it had
been good, the advantages are noise and the policy updates follow them. It often
accompanies a collapse (the policy changes faster than the critic can track).

How, on either signal:
- value loss: its median over the last ``late_fraction`` of the run is at least
  ``growth`` times its median over the first ``early_fraction``, beyond noise.
  Value loss also grows when returns grow (it is in squared return units), so
  when the explained variance is logged and its late median is still at least
  ``ev_healthy``, the growth is taken as scale, not divergence.
- explained variance: its rolling median over ``window`` updates once reached
  ``ev_reached`` and later fell below ``ev_floor`` (a window median below it
  means most of those updates were: persistent, not a dip).

Options: ``growth`` (10), ``early_fraction`` (0.25), ``late_fraction`` (0.25),
``ev_healthy`` (0.5), ``ev_reached`` (0.3), ``ev_floor`` (0.0), ``window`` (10).

Example::

    LRD009 warning explained variance (train/explained_variance) fell below 0
    from step 3.3M after reaching 0.81 at 1.2M
"""

from __future__ import annotations

from typing import Iterator, Mapping

import numpy as np

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import MIN_TREND_POINTS, Problem, numbers
from lrdoctor.words import metric_label, steps

CODE = "LRD009"
SLUG = "value-divergence"
SEVERITY = Severity.warning
SCOPE = "run"
REQUIRES = (("value_loss", "explained_variance"),)
OPTIONS = {
    "growth": 10.0,
    "early_fraction": 0.25,
    "late_fraction": 0.25,
    "ev_healthy": 0.5,
    "ev_reached": 0.3,
    "ev_floor": 0.0,
    "window": 10,
}
LIMITS = {
    "growth": {"at_least": 1},
    "early_fraction": {"more_than": 0, "at_most": 1},
    "late_fraction": {"more_than": 0, "at_most": 1},
    "ev_healthy": {"at_most": 1},
    "ev_reached": {"at_most": 1},
    "ev_floor": {"at_most": 1},
    "window": {"at_least": 1},
}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    if "value_loss" in run.metrics and not _explained_variance_healthy(run, options):
        yield from _value_loss_growth(run, options)
    if "explained_variance" in run.metrics:
        yield from _explained_variance_fall(run, options)


def _explained_variance_healthy(run: Run, options: Mapping) -> bool:
    if "explained_variance" not in run.metrics:
        return False
    change = numbers(run, "explained_variance").level_change(options["early_fraction"], options["late_fraction"])
    return change is not None and change.late >= options["ev_healthy"]


def _value_loss_growth(run: Run, options: Mapping) -> Iterator[Problem]:
    value_loss = numbers(run, "value_loss")
    change = value_loss.level_change(options["early_fraction"], options["late_fraction"])
    if change is None or change.early <= 0 or not change.significant():
        return
    factor = change.late / change.early
    if factor < options["growth"]:
        return
    step = value_loss.first_crossing(change.early * options["growth"], after=change.early_end_step, above=True)
    crossed = f"; past {options['growth']:g}x from step {steps(step)}" if step is not None else ""
    yield Problem(
        message=(
            f"{metric_label(run, 'value_loss')} grew {factor:.3g}x ({change.early:.3g} -> {change.late:.3g}, "
            f"early vs late median){crossed}"
        ),
        step=step if step is not None else change.late_start_step,
        evidence={
            "signal": "value_loss_growth",
            "early_value_loss": change.early,
            "late_value_loss": change.late,
            "growth": round(factor, 3),
            "growth_threshold": options["growth"],
        },
    )


def _explained_variance_fall(run: Run, options: Mapping) -> Iterator[Problem]:
    ev = numbers(run, "explained_variance")
    if len(ev) < MIN_TREND_POINTS:
        return
    window = min(int(options["window"]), len(ev))
    trailing = ev.trailing_median(window)
    reached = trailing >= options["ev_reached"]  # NaN, before the first full window, never is
    if not reached.any():
        return
    reached_step = int(ev.steps[np.argmax(reached)])
    below = (trailing < options["ev_floor"]) & (ev.steps > reached_step)
    if not below.any():
        return
    step = int(ev.steps[np.argmax(below)])
    best, best_step = ev.peak(trailing)
    yield Problem(
        message=(
            f"{metric_label(run, 'explained_variance')} fell below {options['ev_floor']:g} from step {steps(step)} "
            f"after reaching {best:.2f} at {steps(best_step)}"
        ),
        step=step,
        evidence={
            "signal": "explained_variance_fall",
            "best_explained_variance": best,
            "best_step": best_step,
            "below_from_step": step,
            "last_explained_variance": float(trailing[-1]),
            "ev_floor": options["ev_floor"],
            "window": window,
        },
    )
