"""LRD001 kl-exceeded: the KL between successive policies went over its threshold.

Why: PPO's clipped objective only bounds each update loosely; the approximate KL
between the policy before and after an update is what says how far it moved.
Above about 0.02 the policy moves faster than its advantage estimates can follow,
and a recurrent policy at a too-high LR is the usual reason. The finding says
which estimator and tag the KL came from (SB3 and CleanRL log the k3 estimator,
RLlib and Sample Factory the analytic KL).

What it reports: the threshold and where it came from, the first step over it,
the peak and its step, the percent over (0.0334 against 0.02 is 67% over), the
robust peak (the peak of the KL's rolling median over ``window`` updates, which
one wild reading cannot set; named in the message when the raw peak is over
twice it), the share of updates over it, and whether the excess is sustained
(the median of some window of ``window`` consecutive updates is over the
threshold) or an isolated spike.

Severity: a sustained excess, or a robust peak at or above ``error_ratio`` times
the threshold, is an error; a robust peak over the threshold otherwise is a
warning; spikes whose rolling median stays under the threshold are info (told,
not failed on: an adaptive LR or a noisy estimator reads like that).

Options:
- ``threshold`` (0.02): the KL above which an update went too far.
- ``use_target_kl`` (true): when the run's config sets ``target_kl``, that is
  the threshold (the run's own contract); set false to force ``threshold``.
- ``window`` (10): updates in the rolling window that decides "sustained".
- ``error_ratio`` (1.5): a peak this many times the threshold is an error even
  when it is not sustained.

Example::

    LRD001 error approx KL (k3, train/approx_kl) exceeded 0.02 from step 1.9M;
    peak 0.0334 at 3.1M (67% over); over in 58% of updates, sustained

    [tool.lrdoctor.rules.kl-exceeded]
    threshold = 0.03
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np

from lrdoctor.model import Run, Severity
from lrdoctor.rules import prescription
from lrdoctor.rules.common import Problem, lr_cause, numbers
from lrdoctor.words import metric_label, steps

CODE = "LRD001"
SLUG = "kl-exceeded"
SEVERITY = Severity.error
SCOPE = "run"
REQUIRES = ("kl",)
OPTIONS = {"threshold": 0.02, "use_target_kl": True, "window": 10, "error_ratio": 1.5}
LIMITS = {"threshold": {"more_than": 0}, "window": {"at_least": 1}, "error_ratio": {"at_least": 1}}
# A raw peak this many times the rolling median's peak is an outlier, not the run's KL.
OUTLIER_RATIO = 2.0
MAX_PERCENT = 1e12  # "percent over" is capped here: past it the number says nothing more


@dataclass(frozen=True)
class Exceedance:
    """How a run's KL went over its threshold."""

    threshold: float
    threshold_source: str
    first_step_over: int
    peak: float
    peak_step: int
    share_over: float
    sustained_from: int | None  # first step of the first sustained stretch, None for spikes only
    robust_peak: float  # the peak of the KL's rolling median: what one outlier cannot set
    robust_peak_step: int

    @property
    def percent_over(self) -> int:
        return percent_over(self.peak, self.threshold)

    @property
    def robust_percent_over(self) -> int:
        return percent_over(self.robust_peak, self.threshold)

    @property
    def outlier(self) -> bool:
        """Whether the raw peak is one reading far above the rest (TorchRL's k1 KL once read 17.7
        among 0.02-0.07): then the robust peak is the one worth reading."""
        return self.peak > OUTLIER_RATIO * self.robust_peak

    @property
    def sustained(self) -> bool:
        return self.sustained_from is not None


def threshold_for(run: Run, options: Mapping) -> tuple[float, str]:
    """The KL threshold for this run and where it came from."""
    target = run.config.target_kl
    if options["use_target_kl"] and target is not None:
        value = target.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value), f"target_kl in the run's config ({target.source})"
    if options["threshold"] == OPTIONS["threshold"]:
        return float(options["threshold"]), "default"
    return float(options["threshold"]), "configured threshold"


def percent_over(value: float, threshold: float) -> int:
    """How far over the threshold, in percent; a logged 1e307 or a target_kl of 1e-320 from a
    stranger's file would overflow the division, and is capped where no reader cares."""
    ratio = value / threshold if threshold > 0 else math.inf
    return round(min((ratio - 1) * 100, MAX_PERCENT)) if not math.isnan(ratio) else 0


def judged_by(run: Run, options: Mapping) -> dict[str, object]:
    """The threshold this run was judged by, for reports and figures (even when nothing went over)."""
    threshold, source = threshold_for(run, options)
    return {"kl_threshold": threshold, "kl_threshold_source": source}


def exceedance(run: Run, options: Mapping) -> Exceedance | None:
    """The run's KL excess over its threshold, or None when it never went over."""
    kl = numbers(run, "kl")
    threshold, source = threshold_for(run, options)
    over = kl.values > threshold
    if not over.any():
        return None
    window = min(int(options["window"]), len(kl))
    # Fewer than 3 updates cannot show a sustained excess, only single readings.
    sustained_from = kl.first_sustained_step(threshold, window) if window >= 3 else None
    peak, peak_step = kl.peak()
    robust_peak, robust_peak_step = kl.peak(kl.smooth(window))  # window <= len(kl): the middle has its median
    return Exceedance(
        threshold=threshold,
        threshold_source=source,
        first_step_over=int(kl.steps[np.argmax(over)]),
        peak=peak,
        peak_step=peak_step,
        share_over=float(over.mean()),
        sustained_from=sustained_from,
        robust_peak=robust_peak,
        robust_peak_step=robust_peak_step,
    )


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    found = exceedance(run, options)
    if found is None:
        return
    pattern = "sustained" if found.sustained else "spike"
    # Judged on the robust peak: one wild reading is a spike to mention, not an error to fail on,
    # and a KL whose rolling median never passes the threshold did not really exceed it.
    severe = found.sustained or found.robust_peak >= options["error_ratio"] * found.threshold
    severity = Severity.error if severe else Severity.warning if found.robust_peak > found.threshold else Severity.info
    cause = lr_cause(run)
    from_run = "" if found.threshold_source in ("default", "configured threshold") else " (the run's target_kl)"
    message = (
        f"{metric_label(run, 'kl')} exceeded {found.threshold:g}{from_run} from step {steps(found.first_step_over)}; "
        f"peak {found.peak:.3g} at {steps(found.peak_step)} ({found.percent_over}% over"
        f"{_smoothed_words(found) if found.outlier else ''}); "
        f"over in {found.share_over:.0%} of updates, {pattern}"
    )
    kl_source = run.sources.get("kl")
    yield Problem(
        message=message,
        step=found.first_step_over,
        evidence={
            "threshold": found.threshold,
            "threshold_source": found.threshold_source,
            "first_step_over": found.first_step_over,
            "peak": found.peak,
            "peak_step": found.peak_step,
            "percent_over": found.percent_over,
            "robust_peak": found.robust_peak,
            "robust_peak_step": found.robust_peak_step,
            "robust_percent_over": found.robust_percent_over,
            "share_over": round(found.share_over, 4),
            "sustained": found.sustained,
            "sustained_from": found.sustained_from,
            "pattern": pattern,
            "window": int(options["window"]),
            "estimator": kl_source.estimator if kl_source else None,
            "tag": kl_source.tag if kl_source else None,
        },
        fix=prescription.fix_for(run) if cause is not None else None,
        severity=severity,
    )


def _smoothed_words(found: Exceedance) -> str:
    over = f"{found.robust_percent_over}% over" if found.robust_peak > found.threshold else "under the threshold"
    return (f", a single outlier: smoothed over its neighbours the KL peaked at {found.robust_peak:.3g} "
            f"at {steps(found.robust_peak_step)}, {over}")
