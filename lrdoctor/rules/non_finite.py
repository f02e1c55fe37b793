"""LRD007 non-finite: NaN or Inf in a tracked metric, or a negative learning rate.

Why: a NaN loss or KL means the optimizer produced non-finite parameters or the
logger divided by zero; from that update on, the numbers (and usually the
policy) are meaningless. lrdoctor keeps NaN and Inf as data when reading, so
this rule can say where they start. Other rules read only the finite points.
A negative learning rate is as broken, and quieter: the optimizer climbs the
loss instead of descending it (a linear decay computed past its last step goes
below zero, e.g. ``lr * (1 - step / total)`` after ``total``). A logged LR of
zero is not flagged: a decay to zero ends there.

What it reports, per metric: the first step with a non-finite value, how many
there are, and which kinds (NaN, +Inf, -Inf); for the LR, also the first step
it is negative, how many values are, and the lowest.

Options:
- ``min_count`` (1): report a metric only with at least this many non-finite
  (or, for the LR, negative) values (some loggers write a single NaN before
  the first update).

Example::

    LRD007 error value loss (train/value_loss) is non-finite from step 3.2M:
    14 values (NaN)
    LRD007 error LR (train/learning_rate) is negative from step 20M: 12 values,
    down to -3e-06
"""

from __future__ import annotations

from typing import Iterator, Mapping

import numpy as np

from lrdoctor.model import CANONICAL_METRICS, Run, Severity
from lrdoctor.rules.common import Problem
from lrdoctor.words import metric_label, steps

CODE = "LRD007"
SLUG = "non-finite"
SEVERITY = Severity.error
SCOPE = "run"
REQUIRES: tuple = ()
OPTIONS = {"min_count": 1}
LIMITS = {"min_count": {"at_least": 1}}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    ordered = [m for m in CANONICAL_METRICS if m in run.metrics] + sorted(set(run.metrics) - set(CANONICAL_METRICS))
    for metric in ordered:
        steps_logged, values = in_step_order(*run.metrics.points(metric))
        bad = ~np.isfinite(values)
        count = int(bad.sum())
        if count == 0 or count < options["min_count"]:
            continue
        kinds = [
            name
            for name, hit in (("NaN", np.isnan(values)), ("+Inf", np.isposinf(values)), ("-Inf", np.isneginf(values)))
            if hit.any()
        ]
        first = int(steps_logged[np.argmax(bad)])
        yield Problem(
            message=(
                f"{metric_label(run, metric)} is non-finite from step {steps(first)}: "
                f"{count} value{'s' if count != 1 else ''} ({', '.join(kinds)})"
            ),
            step=first,
            evidence={"metric": metric, "first_step": first, "count": count, "of": len(values), "kinds": kinds},
        )
    lr = run.metrics.points("lr")
    if lr is not None:
        yield from _negative_lr(run, *lr, options)


def in_step_order(steps_logged: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A metric's points by step, as pandas' ``sort_index`` put them (the same unstable kind)."""
    if len(steps_logged) > 1 and (np.diff(steps_logged) < 0).any():
        order = np.argsort(steps_logged, kind="quicksort")
        return steps_logged[order], values[order]
    return steps_logged, values


def _negative_lr(run: Run, steps_logged: np.ndarray, values: np.ndarray, options: Mapping) -> Iterator[Problem]:
    order = np.argsort(steps_logged, kind="stable")
    steps_logged, values = steps_logged[order], values[order]
    with np.errstate(invalid="ignore"):
        negative = values < 0  # NaN compares False: reported above, as non-finite
    count = int(negative.sum())
    if count == 0 or count < options["min_count"]:
        return
    first = int(steps_logged[np.argmax(negative)])
    lowest = float(values[negative].min())
    yield Problem(
        message=(
            f"{metric_label(run, 'lr')} is negative from step {steps(first)}: "
            f"{count} value{'s' if count != 1 else ''}, down to {lowest:.3g}"
        ),
        step=first,
        evidence={"metric": "lr", "first_step": first, "count": count, "of": len(values), "lowest": lowest},
    )
