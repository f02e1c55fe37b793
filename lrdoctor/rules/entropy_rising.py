"""LRD004 entropy-rising: the policy's entropy trends up while its return does not improve.

Why: a PPO policy should grow more certain as it learns, so its entropy falls.
Entropy that rises while the return stands still means the updates are pushing
the policy back towards random: the signature of steps that are too large (KL
over target), seen in the run that started lrdoctor. Entropy rising while the
return improves can be healthy exploration and is not flagged.

How: the median entropy of the first ``early_fraction`` of the run against the
median of the last ``late_fraction``; the rise must be at least ``min_rise`` of
the early level, four times its standard error (from the series' own noise
around a rolling median) and agree with the Theil-Sen slope, so noise and
spikes do not trigger it. Entropy is always +H (SB3's ``train/entropy_loss`` is
-H and is negated on reading). The return (else the success rate) "improved"
when its late median beats its early median by ``min_improvement`` of its scale
(the larger of its early size and its 10-90% range). When neither is logged the
rule still reports the rise and says the return was not available.

Options:
- ``min_rise`` (0.1): smallest rise, as a fraction of the early entropy.
- ``early_fraction`` (0.2), ``late_fraction`` (0.25): the parts of the run compared.
- ``min_improvement`` (0.25): improvement of the return that explains the rise away.

Example::

    LRD004 warning entropy (train/entropy_loss, negated) rose 38% (0.92 -> 1.27,
    halfway by 2.1M) while episode return did not improve (41.3 -> 12.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import (
    LevelChange,
    Outcome,
    Problem,
    numbers,
    outcome,
    outcome_metric,
)
from lrdoctor.words import metric_label, steps

CODE = "LRD004"
SLUG = "entropy-rising"
SEVERITY = Severity.warning
SCOPE = "run"
REQUIRES = ("entropy",)
OPTIONS = {"min_rise": 0.1, "early_fraction": 0.2, "late_fraction": 0.25, "min_improvement": 0.25}
LIMITS = {
    "min_rise": {"at_least": 0},
    "early_fraction": {"more_than": 0, "at_most": 1},
    "late_fraction": {"more_than": 0, "at_most": 1},
    "min_improvement": {"at_least": 0},
}


@dataclass(frozen=True)
class Rise:
    change: LevelChange
    half_rise_step: int | None


def rise(run: Run, min_rise: float, early_fraction: float, late_fraction: float) -> Rise | None:
    """The entropy's rise from its early to its late level, when it is a real trend."""
    entropy = numbers(run, "entropy")
    change = entropy.level_change(early_fraction, late_fraction)
    if change is None or change.change <= 0:
        return None
    if change.relative() < min_rise or not change.significant() or change.slope <= 0:
        return None
    halfway = change.early + change.change / 2
    return Rise(change, entropy.first_crossing(halfway, after=change.early_end_step, above=True))


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    found = rise(run, options["min_rise"], options["early_fraction"], options["late_fraction"])
    if found is None:
        return
    result = outcome(run, options["early_fraction"], options["late_fraction"])
    if result is not None and result.improved(options["min_improvement"]):
        return
    change = found.change
    message = (
        f"{metric_label(run, 'entropy')} rose {change.relative():.0%} ({change.early:.3g} -> {change.late:.3g}"
        f"{f', halfway by {steps(found.half_rise_step)}' if found.half_rise_step is not None else ''})"
        f" {_outcome_words(run, result)}"
    )
    yield Problem(
        message=message,
        step=found.half_rise_step,
        evidence={
            "early_entropy": change.early,
            "late_entropy": change.late,
            "rise": round(change.relative(), 4),
            "early_until_step": change.early_end_step,
            "late_from_step": change.late_start_step,
            "half_rise_step": found.half_rise_step,
            "slope_per_million_steps": change.slope * 1e6,
            "outcome_metric": result.metric if result else None,
            "outcome_early": result.early if result else None,
            "outcome_late": result.late if result else None,
        },
    )


def _outcome_words(run: Run, result: Outcome | None) -> str:
    if result is None and outcome_metric(run) is not None:
        return f"; {metric_label(run, outcome_metric(run))} has too few points to judge whether it improved"
    if result is None:
        return "; neither return nor success rate was logged, so whether it helped could not be judged"
    return f"while {metric_label(run, result.metric)} did not improve ({result.early:.3g} -> {result.late:.3g})"
