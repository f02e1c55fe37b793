"""LRD008 clip-fraction-high: PPO clips a large share of its samples, update after update.

Why: the clip fraction is the share of samples whose probability ratio left
[1 - clip_range, 1 + clip_range] during an update. When most updates clip a
large share, the policy is being pushed further than PPO's trust region in
every update: the learning rate (or the number of epochs) is too high for it.
A few high updates are normal; a sustained stretch is not.

How: sustained means the median of some window of ``window`` consecutive
updates is above ``threshold``, so isolated spikes do not count.

Options:
- ``threshold`` (0.3): the clip fraction considered high.
- ``window`` (10): updates in the rolling window.

Example::

    LRD008 warning clip fraction (train/clip_fraction) above 0.3 sustained from
    step 2.2M; peak 0.47 at 3.4M; above in 41% of updates
"""

from __future__ import annotations

from typing import Iterator, Mapping

from lrdoctor.model import Run, Severity
from lrdoctor.rules.common import Problem, numbers
from lrdoctor.words import metric_label, steps

CODE = "LRD008"
SLUG = "clip-fraction-high"
SEVERITY = Severity.warning
SCOPE = "run"
REQUIRES = ("clip_fraction",)
OPTIONS = {"threshold": 0.3, "window": 10}
LIMITS = {"threshold": {"more_than": 0, "at_most": 1}, "window": {"at_least": 1}}


def check(run: Run, options: Mapping) -> Iterator[Problem]:
    clip = numbers(run, "clip_fraction")
    threshold = float(options["threshold"])
    window = min(int(options["window"]), len(clip))
    if window < 3:
        return
    start = clip.first_sustained_step(threshold, window)
    if start is None:
        return
    share_over = float((clip.values > threshold).mean())
    peak, peak_step = clip.peak()
    yield Problem(
        message=(
            f"{metric_label(run, 'clip_fraction')} above {threshold:g} sustained from step {steps(start)}; "
            f"peak {peak:.3g} at {steps(peak_step)}; above in {share_over:.0%} of updates"
        ),
        step=start,
        evidence={
            "threshold": threshold,
            "window": window,
            "sustained_from": start,
            "peak": peak,
            "peak_step": peak_step,
            "share_over": round(share_over, 4),
        },
    )
