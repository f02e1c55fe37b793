"""LRD005 entropy-collapse: the policy's entropy falls towards zero early in the run.

Why: a policy whose entropy collapses early has stopped exploring before it has
learned much: it commits to whatever it does first, usually because early
updates are too large (a high LR without warmup) or the entropy bonus is too
small. Entropy falling late in a run is normal convergence and is not flagged.

How: the entropy's starting level is the median of its first ``early_fraction``
of points; the rule looks for its rolling median (robust to single dips)
falling to ``floor`` times that level within the first ``within`` of the run's
steps. Entropy is +H (SB3's -H is negated on reading). It needs a positive
starting entropy, as discrete policies have; for a continuous policy whose
differential entropy starts at or below zero a fraction of it means nothing,
and the rule stays silent.

Options:
- ``floor`` (0.1): the fraction of the starting entropy counted as collapsed.
- ``within`` (0.5): how early, as a fraction of the run's steps, counts as early.
- ``early_fraction`` (0.05): the first part of the run that sets the starting level.

Example::

    LRD005 warning entropy (losses/entropy) fell to 0.061, 9% of its starting
    0.69, by step 400K (20% into the run)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import MIN_TREND_POINTS, Problem, head_count, median, numbers
from lrdoctor.words import metric_label, steps

CODE = "LRD005"
SLUG = "entropy-collapse"
SEVERITY = Severity.warning
SCOPE = "run"
REQUIRES = ("entropy",)
OPTIONS = {"floor": 0.1, "within": 0.5, "early_fraction": 0.05}
LIMITS = {
    "floor": {"more_than": 0, "at_most": 1},
    "within": {"more_than": 0, "at_most": 1},
    "early_fraction": {"more_than": 0, "at_most": 1},
}


@dataclass(frozen=True)
class Collapse:
    initial: float
    value: float
    step: int
    run_fraction: float


def collapse(run: Run, floor: float, within: float, early_fraction: float) -> Collapse | None:
    """Where the entropy's rolling median first fell to ``floor`` of its start, if early enough."""
    entropy = numbers(run, "entropy")
    if len(entropy) < MIN_TREND_POINTS:
        return None
    initial = median(entropy.values[: head_count(len(entropy), early_fraction)])
    if initial <= 0:
        return None
    trend = entropy.smooth(entropy.trend_window)
    first, last = int(entropy.steps[0]), int(entropy.steps[-1])
    low = (trend <= floor * initial) & (entropy.steps <= first + within * (last - first))
    if not low.any():
        return None
    at = int(np.argmax(low))
    step = int(entropy.steps[at])
    return Collapse(initial, float(trend[at]), step, (step - first) / max(last - first, 1))


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    found = collapse(run, options["floor"], options["within"], options["early_fraction"])
    if found is None:
        return
    yield Problem(
        message=(
            f"{metric_label(run, 'entropy')} fell to {found.value:.3g}, {found.value / found.initial:.0%} of its "
            f"starting {found.initial:.3g}, by step {steps(found.step)} ({found.run_fraction:.0%} into the run)"
        ),
        step=found.step,
        evidence={
            "initial_entropy": found.initial,
            "entropy": found.value,
            "fraction_of_initial": round(found.value / found.initial, 4),
            "step": found.step,
            "run_fraction": round(found.run_fraction, 4),
            "floor": options["floor"],
            "within": options["within"],
        },
    )
